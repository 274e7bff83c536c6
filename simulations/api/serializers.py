"""Run and result representations for the API; the numbers come from simulations.selectors."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from simulations.models import MemberResult, SimulationRun, StabilityResult, YearResult


class RunStartSerializer(serializers.Serializer):
    """Optional overrides of the scenario's draws and seed for one run."""

    draws = serializers.IntegerField(required=False, min_value=1, max_value=100_000)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"lab": {}, "scenario": {}},
                "required": ["lab", "scenario"],
            },
        },
    }
)
class RunOverridesField(serializers.JSONField):
    pass


class RunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    results_url = serializers.SerializerMethodField()
    scenario = serializers.PrimaryKeyRelatedField(read_only=True)
    progress = serializers.FloatField(read_only=True, help_text="Share of the work done, 0 to 1.")
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    notice = serializers.CharField(source="queue_notice", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    engine_label = serializers.CharField(
        read_only=True, help_text="Which engine and cost model made the run: `Engine 2.0.0 (cost model v2)`."
    )
    headline = serializers.CharField(
        read_only=True,
        help_text="What each member's `savings` is: `median of the draws` or `value at central parameters`; empty "
        "for runs of engine 1.0.0 (central parameters).",
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Sentences about implausible inputs, to show beside the numbers; empty for engine 1.0.0.",
    )
    outsider_share = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Share (0 to 1) of the consortium's published work an outsider can use; null for engine 1.0.0.",
    )

    overrides = RunOverridesField(
        read_only=True,
        help_text="Lab inputs the scenario overrode for this run: {lab name: {field: {`lab`: the lab's own value "
        "when the run started, `scenario`: the value the run used}}}; `{}` without overrides.",
    )

    class Meta:
        model = SimulationRun
        fields = [
            "id",
            "url",
            "scenario",
            "status",
            "progress",
            "chunks_done",
            "chunks_total",
            "draws",
            "seed",
            "engine_version",
            "engine_label",
            "headline",
            "warnings",
            "outsider_share",
            "overrides",
            "error",
            "notice",
            "created_by",
            "created_at",
            "dispatched_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "results_url",
        ]
        read_only_fields = fields

    def _absolute(self, name: str, pk: int) -> str:
        path = reverse(name, kwargs={"pk": pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_url(self, run: SimulationRun) -> str:
        return self._absolute("api-run-detail", run.pk)

    def get_results_url(self, run: SimulationRun) -> str | None:
        if run.status != SimulationRun.Status.SUCCEEDED:
            return None
        return self._absolute("api-run-results", run.pk)


class MemberResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = MemberResult
        fields = [
            "lab",
            "lab_name",
            "exact",
            "standalone_cost",
            "allocated_cost",
            "allocated_stderr",
            "savings",
            "savings_pct",
            "savings_p10",
            "savings_p50",
            "savings_p90",
            "savings_pct_p10",
            "savings_pct_p50",
            "savings_pct_p90",
            "prob_saving",
            "delivered_value",
            "settlement",
            "savings_central",
            "savings_pct_central",
            "no_consortium_cost",
            "savings_vs_no_consortium",
            "savings_vs_no_consortium_pct",
            "savings_vs_no_consortium_p10",
            "savings_vs_no_consortium_p90",
            "direct_cost",
            "note",
            "prob_above_outside",
            "prob_above_outside_stderr",
        ]


class BlockingGroupSerializer(serializers.Serializer):
    """A coalition that would rather leave in some Monte Carlo draws."""

    members = serializers.ListField(child=serializers.CharField(), help_text="Names of the labs in the coalition.")
    share = serializers.FloatField(
        help_text="Share of the draws (0 to 1) in which it is among the draw's 8 largest blockers."
    )
    share_stderr = serializers.FloatField(help_text="Binomial standard error of the share.")
    gain_p50 = serializers.FloatField(help_text="Median gain from leaving when it blocks (money).")
    gain_max = serializers.FloatField(help_text="Largest gain from leaving over the draws (money).")


class StabilitySerializer(serializers.ModelSerializer):
    blocking_draws = BlockingGroupSerializer(
        many=True, read_only=True, help_text="The coalitions that block most often over the draws (at most 5)."
    )

    class Meta:
        model = StabilityResult
        fields = [
            "in_core",
            "individually_rational",
            "blocking_coalition",
            "max_excess",
            "least_core_epsilon",
            "exhaustive",
            "method",
            "draws_checked",
            "prob_in_core",
            "prob_in_core_stderr",
            "prob_core_nonempty",
            "prob_core_nonempty_stderr",
            "max_excess_p10",
            "max_excess_p50",
            "max_excess_p90",
            "least_core_epsilon_p10",
            "least_core_epsilon_p50",
            "least_core_epsilon_p90",
            "blocking_draws",
            "draws_method",
        ]


class YearSerializer(serializers.ModelSerializer):
    class Meta:
        model = YearResult
        fields = ["year", "standalone_cost", "consortium_cost", "cumulative_savings"]


def results_payload(results, *, currency: str, context: dict) -> dict:
    """The JSON body of a run's results, built from `simulations.selectors.RunResults`."""
    return {
        "run": RunSerializer(results.run, context=context).data,
        "currency": currency,
        "units": {
            "costs": f"{currency}, present value over the horizon",
            "savings_pct": "percent of the stand-alone cost (the outside option)",
            "savings_vs_no_consortium_pct": "percent of the no-consortium cost",
            "prob_saving": "probability, 0 to 1",
            "prob_in_core": "probability over the draws, 0 to 1, with its standard error (*_stderr)",
            "max_excess": f"{currency}: the largest gain of any group from leaving (> 0: it would leave)",
        },
        "rules": [
            {
                "rule": rule,
                "members": MemberResultSerializer(results.members[rule], many=True).data,
                "stability": StabilitySerializer(results.stability[rule]).data if rule in results.stability else None,
            }
            for rule in results.rules
        ],
        "years": {name: YearSerializer(rows, many=True).data for name, rows in results.years.items()},
        "evidence": _evidence(results.run),
    }


def _evidence(run) -> dict | None:
    from simulations.selectors import run_evidence_get

    evidence = run_evidence_get(run=run)
    return None if evidence is None else evidence.to_dict()


class EvidenceWindowSerializer(serializers.Serializer):
    months = serializers.IntegerField(help_text="The scenario's evidence window, months before the run.")
    start = serializers.DateField()
    end = serializers.DateField(help_text="The day the run started; both ends are included.")


class OpennessUsedSerializer(serializers.Serializer):
    lab = serializers.IntegerField(allow_null=True)
    lab_name = serializers.CharField()
    asked = serializers.ChoiceField(choices=["assumed", "ledger"], help_text="The source the scenario asks for.")
    source = serializers.ChoiceField(
        choices=["assumed", "ledger", "override"], help_text="The source that gave the value used."
    )
    value = serializers.FloatField(help_text="Openness the run used, 0 to 1.")
    assumed = serializers.FloatField(help_text="The lab's own openness when the run started, 0 to 1.")
    measured = serializers.FloatField(
        allow_null=True, help_text="Openness measured from its artifacts in the window; null: no evidence."
    )
    fallback = serializers.BooleanField(help_text="Asked for the ledger, which had no evidence: assumed used.")


class MemberEvidenceSerializer(serializers.Serializer):
    lab = serializers.IntegerField(allow_null=True)
    lab_name = serializers.CharField()
    ledger_reuse_gpu_hours = serializers.FloatField(help_text="GPU-hours of others' work it logged reusing.")
    ledger_reuse_gpu_hours_per_year = serializers.FloatField()
    model_drawn_gpu_hours_per_year = serializers.FloatField(
        help_text="H100-equivalent GPU-hours it draws from the commons in year 1, at central parameters."
    )
    model_saved_gpu_hours_per_year = serializers.FloatField(
        help_text="H100-equivalent GPU-hours of in-house compute that replaces in year 1."
    )
    model_saved_base_model_gpu_hours_per_year = serializers.FloatField()
    model_over_ledger = serializers.FloatField(allow_null=True, help_text="Null when the ledger records none.")
    model_ahead_of_evidence = serializers.BooleanField(
        help_text="The model expects more than `ahead_factor` times the ledger's reuse (or some, against none)."
    )
    sentence = serializers.CharField()


class RunEvidenceSerializer(serializers.Serializer):
    """Schema of a run's `evidence` block (built by simulations.selectors.RunEvidence.to_dict)."""

    window = EvidenceWindowSerializer()
    openness_weights = serializers.DictField(child=serializers.FloatField())
    openness = OpennessUsedSerializer(many=True)
    members = MemberEvidenceSerializer(many=True)
    ahead_factor = serializers.FloatField()


class RuleResultsSerializer(serializers.Serializer):
    """Schema of one rule's block in a run's results."""

    rule = serializers.CharField()
    members = MemberResultSerializer(many=True)
    stability = StabilitySerializer(allow_null=True)


class RunResultsSerializer(serializers.Serializer):
    """Schema of `GET /api/v1/runs/{id}/results/` (the body is built by `results_payload`)."""

    run = RunSerializer()
    currency = serializers.CharField()
    units = serializers.DictField(child=serializers.CharField())
    rules = RuleResultsSerializer(many=True)
    years = serializers.DictField(child=YearSerializer(many=True), help_text="Per-year series by lab name.")
    evidence = RunEvidenceSerializer(
        allow_null=True,
        help_text="The ledger's evidence the run recorded when it started: the openness used per lab and each "
        "member's logged reuse beside what the model says the commons saves it; null for runs made before runs "
        "recorded it.",
    )
