"""Simulation runs and their stored results.

A run snapshots every input it uses, so it can be reproduced after the ledger changes. Results
live in tables here (not in Celery's result backend); pages, CSV downloads and the API read them
through selectors.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class SimulationRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    scenario = models.ForeignKey("consortium.Scenario", on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    inputs = models.JSONField(help_text="Snapshot of every input exactly as used (engine ScenarioSpec).")
    seed = models.BigIntegerField()
    draws = models.PositiveIntegerField()
    engine_version = models.CharField(max_length=20)
    chunks_total = models.PositiveIntegerField(default=1)
    chunks_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    fanned_out_at = models.DateTimeField(
        null=True, blank=True, help_text="When the run's chunk tasks were handed to the broker."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["scenario", "status", "-finished_at"])]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.scenario} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("simulations:run", kwargs={"pk": self.pk})

    @property
    def progress(self) -> float:
        """Share of the work done, 0 to 1."""
        if self.status == self.Status.SUCCEEDED:
            return 1.0
        if not self.chunks_total:
            return 0.0
        return min(1.0, self.chunks_done / self.chunks_total)

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def queue_notice(self) -> str:
        """What to tell a user whose run could not be handed to the job queue yet."""
        if self.status == self.Status.QUEUED and self.dispatched_at is None:
            return "The job queue is unreachable; the run is saved and will start when it is back."
        return ""

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class SimulationChunk(models.Model):
    """A slice [start, stop) of a run's Monte Carlo draws, computed by one task."""

    run = models.ForeignKey(SimulationRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    stop = models.PositiveIntegerField()
    result = models.BinaryField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A chunk that started long ago and never finished lost its worker; the watchdog re-publishes
    # it a bounded number of times.
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="chunk_unique_index")]

    def __str__(self) -> str:
        return f"Chunk {self.index} [{self.start}, {self.stop}) of run {self.run_id}"


class MemberResult(models.Model):
    """One member's figures under one cost-sharing rule, in money (the consortium's currency)."""

    run = models.ForeignKey(SimulationRun, on_delete=models.CASCADE, related_name="member_results")
    lab = models.ForeignKey("labs.Lab", on_delete=models.SET_NULL, null=True, related_name="+")
    lab_name = models.CharField(max_length=120)
    rule = models.CharField(max_length=20)
    exact = models.BooleanField(default=True)
    standalone_cost = models.FloatField()
    allocated_cost = models.FloatField()
    allocated_stderr = models.FloatField(null=True, blank=True)
    savings = models.FloatField()
    savings_pct = models.FloatField()
    savings_p10 = models.FloatField()
    savings_p50 = models.FloatField()
    savings_p90 = models.FloatField()
    savings_pct_p10 = models.FloatField()
    savings_pct_p50 = models.FloatField()
    savings_pct_p90 = models.FloatField()
    prob_saving = models.FloatField()
    delivered_value = models.FloatField(default=0.0)
    settlement = models.FloatField(
        help_text="Share of the pool's cost minus the value delivered in kind; > 0 owes (docs/model.md, section 7)."
    )

    class Meta:
        ordering = ["run", "rule", "lab_name"]
        constraints = [models.UniqueConstraint(fields=["run", "rule", "lab_name"], name="member_result_unique")]

    def __str__(self) -> str:
        return f"{self.lab_name} under {self.rule} in run {self.run_id}"


class StabilityResult(models.Model):
    run = models.ForeignKey(SimulationRun, on_delete=models.CASCADE, related_name="stability_results")
    rule = models.CharField(max_length=20)
    in_core = models.BooleanField()
    individually_rational = models.BooleanField()
    blocking_coalition = models.JSONField(null=True, blank=True)
    max_excess = models.FloatField()
    least_core_epsilon = models.FloatField()
    exhaustive = models.BooleanField()
    method = models.CharField(max_length=200)

    class Meta:
        ordering = ["run", "rule"]
        constraints = [models.UniqueConstraint(fields=["run", "rule"], name="stability_unique")]

    def __str__(self) -> str:
        return f"Stability of {self.rule} in run {self.run_id}"


class YearResult(models.Model):
    """Per-member, per-year costs for the horizon charts (present values)."""

    run = models.ForeignKey(SimulationRun, on_delete=models.CASCADE, related_name="year_results")
    lab_name = models.CharField(max_length=120)
    year = models.PositiveSmallIntegerField()
    standalone_cost = models.FloatField()
    consortium_cost = models.FloatField()
    cumulative_savings = models.FloatField()

    class Meta:
        ordering = ["run", "lab_name", "year"]
        constraints = [models.UniqueConstraint(fields=["run", "lab_name", "year"], name="year_result_unique")]

    def __str__(self) -> str:
        return f"{self.lab_name} year {self.year} in run {self.run_id}"
