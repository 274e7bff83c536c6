"""Simulation runs and their stored results.

A run snapshots every input it uses, so it can be reproduced after the ledger changes. Results
live in tables here (not in Celery's result backend); pages, CSV downloads and the API read them
through selectors.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from simulations.engine.rules import RULE_LABELS
from simulations.engine.scenario import HEADLINE_MEDIAN, STABILITY_ASSUMPTION

# The two baselines of cost model v2, as pages name them.
LEAVING_LABEL = "vs leaving (outside option: alone, reading the consortium's published work)"
NO_CONSORTIUM_LABEL = "vs no consortium"


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
    # What the engine said about the run as a whole (engine 2.0.0 on; runs of 1.0.0 keep the defaults).
    warnings = models.JSONField(
        default=list, blank=True, help_text="Sentences about implausible inputs, shown beside the numbers."
    )
    headline = models.CharField(
        max_length=40, blank=True, help_text="What the headline savings are: the median of the draws, or central."
    )
    outsider_share = models.FloatField(
        null=True, blank=True, help_text="Share of the consortium's published work an outsider can use, 0 to 1."
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
    def is_custom(self) -> bool:
        """A run of a custom game (a given table or airport game), not of the cost model."""
        return "custom" in self.inputs

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

    @property
    def cost_model(self) -> int | None:
        """The cost model's generation: the engine version's major number (None if unknown)."""
        major = self.engine_version.split(".", 1)[0]
        return int(major) if major.isdigit() else None

    @property
    def engine_label(self) -> str:
        """`Engine 2.0.0 (cost model v2)`: which engine made the run, for readers comparing runs."""
        if not self.engine_version:
            return ""
        if self.cost_model is None:
            return f"Engine {self.engine_version}"
        return f"Engine {self.engine_version} (cost model v{self.cost_model})"

    @property
    def checks_every_draw(self) -> bool:
        """Made by an engine that checks stability in every draw (2.1.0 on, runs of up to 20 labs)."""
        parts = self.engine_version.split(".")
        try:
            return (int(parts[0]), int(parts[1])) >= (2, 1) and self.draws > 0
        except (ValueError, IndexError):
            return False

    @property
    def is_cost_model_v1(self) -> bool:
        """Made by an engine before 2.0.0: no outside option, no second baseline, no notes or warnings."""
        return self.cost_model is not None and self.cost_model < 2

    @property
    def overrides(self) -> dict:
        """The scenario's overrides the run used: {lab name: {field: {"lab": own, "scenario": used}}}.

        Empty for runs without overrides and for runs made before scenarios had them.
        """
        return (self.inputs or {}).get("overrides") or {}

    @property
    def headline_is_median(self) -> bool:
        return self.headline == HEADLINE_MEDIAN

    @property
    def headline_label(self) -> str:
        """What the headline savings figure is: `median of 1,000 draws` or `at central parameters`.

        Cost model v1 reported the savings at the scenario's own parameters and stored no headline.
        """
        if self.headline_is_median:
            return f"median of {self.draws:,} draw{'s' if self.draws != 1 else ''}"
        return "at central parameters"

    @property
    def baseline_short(self) -> str:
        """What the headline savings are measured against, in two or three words."""
        return "vs going alone" if self.is_cost_model_v1 else "vs leaving"

    @property
    def savings_baseline_label(self) -> str:
        """What the headline savings are measured against, in full."""
        return "vs going alone (cost model v1)" if self.is_cost_model_v1 else LEAVING_LABEL

    @property
    def stability_assumption(self) -> str:
        """The outside option the stability check assumes (cost model v2 on)."""
        return "" if self.is_cost_model_v1 else STABILITY_ASSUMPTION


class SimulationChunk(models.Model):
    """A slice [start, stop) of a run's Monte Carlo draws, computed by one task."""

    run = models.ForeignKey(SimulationRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    stop = models.PositiveIntegerField()
    result = models.BinaryField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started computing the chunk.")
    # A started chunk whose heartbeat is older than SIMULATION_HEARTBEAT_TIMEOUT lost its worker;
    # the watchdog sends it again, a bounded number of times (`lost`).
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker computing or merging this chunk."
    )
    lost = models.PositiveSmallIntegerField(default=0, help_text="Times the watchdog found its worker gone.")

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
    # Cost model v2 (engine 2.0.0): NULL in the rows of runs made by earlier engines. The headline
    # `savings` above is then the median over the draws and `standalone_cost` the outside option.
    savings_central = models.FloatField(null=True, blank=True, help_text="Savings at the scenario's own parameters.")
    savings_pct_central = models.FloatField(null=True, blank=True)
    no_consortium_cost = models.FloatField(
        null=True, blank=True, help_text="Cost of going alone in a world without the consortium."
    )
    savings_vs_no_consortium = models.FloatField(null=True, blank=True, help_text="Median over the draws.")
    savings_vs_no_consortium_pct = models.FloatField(null=True, blank=True)
    savings_vs_no_consortium_p10 = models.FloatField(null=True, blank=True)
    savings_vs_no_consortium_p90 = models.FloatField(null=True, blank=True)
    direct_cost = models.FloatField(null=True, blank=True, help_text="The member's private costs (it pays itself).")
    note = models.TextField(
        null=True, blank=True, help_text="Why the member pays more than its outside option, when it does."
    )
    # Engine 2.1.0 on: NULL in the rows of earlier runs.
    prob_above_outside = models.FloatField(
        null=True, blank=True, help_text="Share of the draws in which the member pays more than its outside option."
    )
    prob_above_outside_stderr = models.FloatField(null=True, blank=True, help_text="Its binomial standard error.")

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
    # Stability in every Monte Carlo draw (engine 2.1.0 on, up to 20 members): NULL otherwise.
    draws_checked = models.PositiveIntegerField(null=True, blank=True, help_text="Draws whose core was checked.")
    prob_in_core = models.FloatField(
        null=True, blank=True, help_text="Share of the draws in which the rule is in the core."
    )
    prob_in_core_stderr = models.FloatField(null=True, blank=True)
    prob_core_nonempty = models.FloatField(null=True, blank=True, help_text="Share of the draws with a non-empty core.")
    prob_core_nonempty_stderr = models.FloatField(null=True, blank=True)
    max_excess_p10 = models.FloatField(null=True, blank=True, help_text="Largest gain of any group from leaving.")
    max_excess_p50 = models.FloatField(null=True, blank=True)
    max_excess_p90 = models.FloatField(null=True, blank=True)
    least_core_epsilon_p10 = models.FloatField(null=True, blank=True)
    least_core_epsilon_p50 = models.FloatField(null=True, blank=True)
    least_core_epsilon_p90 = models.FloatField(null=True, blank=True)
    blocking_draws = models.JSONField(
        default=list,
        blank=True,
        help_text="The coalitions that block most often: members, share of draws (and its standard error), gains.",
    )
    draws_method = models.CharField(max_length=200, blank=True)

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


class LeverStudy(models.Model):
    """A search for the design levers of a scenario's first rule, computed by one task.

    `results` holds the engine's levers (embargo, overhead) and largest stable coalition as plain
    JSON, each with its sentence; `step` says what the worker is doing while it runs.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    scenario = models.ForeignKey("consortium.Scenario", on_delete=models.CASCADE, related_name="lever_studies")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    rule = models.CharField(max_length=20, help_text="The rule whose stability the levers keep (the scenario's first).")
    target = models.FloatField(help_text="Probability of staying in the core the levers must reach, 0.5 to 0.99.")
    draws = models.PositiveIntegerField(help_text="Monte Carlo draws each trial value is checked over.")
    inputs = models.JSONField(help_text="Snapshot of the scenario as used (engine ScenarioSpec).")
    engine_version = models.CharField(max_length=20)
    progress = models.FloatField(default=0.0, help_text="Share of the work done, 0 to 1.")
    step = models.CharField(max_length=120, blank=True, help_text="What the worker is computing now.")
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "lever studies"

    def __str__(self) -> str:
        return f"Lever study {self.pk} of {self.scenario} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("simulations:lever_study_progress", kwargs={"pk": self.pk})

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def rule_label(self) -> str:
        return RULE_LABELS.get(self.rule, self.rule)

    @property
    def sentences(self) -> list[str]:
        """The findings in words, embargo, overhead and coalition in that order (empty until done)."""
        return [self.results[key]["sentence"] for key in ("embargo", "overhead", "coalition") if key in self.results]
