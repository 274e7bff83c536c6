"""Serializers of report query parameters (validated, documented) and of report bodies (documented).

Report rows are built as plain dicts by reports.selectors; the body serializers describe them in
the OpenAPI schema so clients can generate types.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from rest_framework import serializers

from reports.models import ApiKey
from reports.selectors import REUSE_GROUPS, SAVINGS_COLUMNS, WINDOWS
from simulations.engine.rules import RULES

FORMATS = ("json", "csv")
CONTRIBUTION_GROUP_CHOICES = ("lab", "period", "gpu_type")


MAX_ID = 2**63 - 1
# At most 18 digits: every id fits a 64-bit column.
ID_LIST_PATTERN = r"^[1-9][0-9]{0,17}(,[1-9][0-9]{0,17})*$"


class IdListField(serializers.CharField):
    """Comma-separated positive integer ids, `3,5,8`, each given once (repeats are dropped)."""

    def __init__(self, *, minimum: int = 1, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.minimum = minimum
        pattern = ID_LIST_PATTERN if minimum == 1 else ID_LIST_PATTERN.replace(")*$", f"){{{minimum - 1},}}$")
        message = "Enter ids separated by commas, e.g. 3,5."
        if minimum > 1:
            message = f"Enter at least {minimum} ids separated by commas, e.g. 3,5."
        super().__init__(validators=[RegexValidator(pattern, message)], **kwargs)

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        text = super().to_internal_value(data)
        # The pattern (also published in the schema) applies to the text, before it becomes ids.
        super().run_validators(text)
        return list(dict.fromkeys(int(part) for part in text.split(",")))

    def run_validators(self, value):  # type: ignore[no-untyped-def]
        """Validators ran on the text in to_internal_value."""


class ReportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(FORMATS, required=False, help_text="`csv` for CSV; JSON otherwise.")
    page = serializers.IntegerField(required=False, min_value=1, help_text="Page number (JSON only).")
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=500, help_text="Rows per page, default 50 (JSON only)."
    )


class WindowQuerySerializer(ReportQuerySerializer):
    start = serializers.DateField(required=False, help_text="First day of the window (YYYY-MM-DD).")
    end = serializers.DateField(required=False, help_text="Last day of the window (YYYY-MM-DD).")
    window = serializers.ChoiceField(
        WINDOWS, required=False, help_text="A named window instead of start/end; `all` by default."
    )


class SavingsQuerySerializer(ReportQuerySerializer):
    scenario = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Scenario id; its latest succeeded run unless `run` is given."
    )
    run = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="One of the scenario's succeeded runs instead."
    )
    rule = serializers.ChoiceField(RULES, required=False, help_text="Cost-sharing rule; the run's first by default.")
    lab = IdListField(required=False, help_text="Only these lab ids, comma-separated.")
    ordering = serializers.ChoiceField(
        [column for name in SAVINGS_COLUMNS[1:] for column in (name, f"-{name}")],
        required=False,
        help_text="Sort rows by a column; `-` for descending. By lab name otherwise.",
    )


class ComparisonQuerySerializer(ReportQuerySerializer):
    scenarios = IdListField(
        minimum=2,
        required=False,
        help_text="Two or more scenario ids, comma-separated; the first is the baseline. Give this or `runs`.",
    )
    runs = IdListField(
        minimum=2,
        required=False,
        help_text="Instead of `scenarios`: two or more succeeded run ids (of one scenario or several), "
        "comma-separated; the first is the baseline.",
    )
    rule = serializers.ChoiceField(RULES, required=False, help_text="Cost-sharing rule; the first scenario's first.")

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        if ("scenarios" in attrs) == ("runs" in attrs):
            raise serializers.ValidationError(
                {"scenarios": "Give either `scenarios` or `runs` (two or more ids, comma-separated), not both."}
            )
        return attrs


class ContributionsQuerySerializer(WindowQuerySerializer):
    group_by = serializers.CharField(
        required=False,
        default="lab",
        help_text="Comma-separated groupings from lab, period (calendar quarter), gpu_type.",
    )
    lab = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="Only this lab id.")

    def validate_group_by(self, value: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in value.split(",") if part.strip())
        unknown = sorted(set(names) - set(CONTRIBUTION_GROUP_CHOICES))
        if unknown or not names:
            raise serializers.ValidationError(
                f"Choose one or more of {', '.join(CONTRIBUTION_GROUP_CHOICES)}, comma-separated."
            )
        if len(set(names)) != len(names):
            raise serializers.ValidationError("Each grouping may be given once.")
        return names


class ReuseQuerySerializer(WindowQuerySerializer):
    by = serializers.ChoiceField(
        REUSE_GROUPS, required=False, default="reusing_lab", help_text="Group by the reusing or the owning lab."
    )


# Bodies (documentation) --------------------------------------------------------------------


class PageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Rows in the whole report.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


V2 = " Null for runs of engine 1.0.0 (cost model v1)."


class SavingsRowSerializer(serializers.Serializer):
    lab = serializers.IntegerField(allow_null=True, help_text="Lab id (null if the lab was deleted).")
    lab_name = serializers.CharField()
    standalone_cost_usd = serializers.FloatField(
        help_text="The outside option: going alone while reading the consortium's published work (after the "
        "embargo, to the extent of the spillover share), present value at central parameters, US$. Cost model v1: "
        "going alone."
    )
    allocated_cost_usd = serializers.FloatField(help_text="Share of the consortium's cost under the rule, US$.")
    savings_usd = serializers.FloatField(
        help_text="Headline savings against the outside option, US$: the median over the draws (`headline` says "
        "which); inside the P10-P90 band. Cost model v1: at central parameters."
    )
    savings_pct = serializers.FloatField(help_text="Headline savings as a percentage of the outside option.")
    savings_p10_usd = serializers.FloatField()
    savings_p50_usd = serializers.FloatField()
    savings_p90_usd = serializers.FloatField()
    savings_pct_p10 = serializers.FloatField()
    savings_pct_p50 = serializers.FloatField()
    savings_pct_p90 = serializers.FloatField()
    prob_saving = serializers.FloatField(help_text="Probability (0 to 1) that the lab saves, over the draws.")
    delivered_value_usd = serializers.FloatField(help_text="Value of compute delivered in kind, US$.")
    settlement_usd = serializers.FloatField(
        help_text="Allocated cost minus own direct costs minus delivered value (docs/model.md §7); > 0 owes, US$."
    )
    savings_central_usd = serializers.FloatField(
        allow_null=True, help_text="Savings against the outside option at the scenario's own parameters, US$." + V2
    )
    savings_pct_central = serializers.FloatField(allow_null=True, help_text="The same in percent." + V2)
    no_consortium_cost_usd = serializers.FloatField(
        allow_null=True, help_text="Cost of going alone in a world without the consortium, US$." + V2
    )
    savings_vs_no_consortium_usd = serializers.FloatField(
        allow_null=True, help_text="Savings against a world without the consortium (median of the draws), US$." + V2
    )
    savings_vs_no_consortium_pct = serializers.FloatField(
        allow_null=True, help_text="The same as a percentage of the no-consortium cost." + V2
    )
    savings_vs_no_consortium_p10_usd = serializers.FloatField(allow_null=True, help_text="P10 over the draws." + V2)
    savings_vs_no_consortium_p90_usd = serializers.FloatField(allow_null=True, help_text="P90 over the draws." + V2)
    direct_cost_usd = serializers.FloatField(
        allow_null=True, help_text="The member's private costs (what it pays itself), US$." + V2
    )
    note = serializers.CharField(
        allow_null=True,
        allow_blank=True,
        help_text="Why the member pays more than its outside option under the rule, when it does; empty otherwise."
        + V2,
    )


class RunMetaSerializer(serializers.Serializer):
    """What a report says about the run its figures come from."""

    engine_version = serializers.CharField(help_text="The engine that made the run; 2.x is cost model v2.")
    headline = serializers.CharField(
        allow_blank=True,
        help_text="What `savings_usd` is: `median of the draws` or `value at central parameters`; empty for "
        "engine 1.0.0 (central parameters).",
    )
    warnings = serializers.ListField(
        child=serializers.CharField(), help_text="Sentences about implausible inputs; empty for engine 1.0.0."
    )
    outsider_share = serializers.FloatField(
        allow_null=True,
        help_text="Share (0 to 1) of the consortium's published work an outsider can use; null for engine 1.0.0.",
    )


class SavingsReportSerializer(PageSerializer, RunMetaSerializer):
    consortium = serializers.SlugField()
    scenario = serializers.IntegerField()
    scenario_name = serializers.CharField()
    run = serializers.IntegerField()
    run_finished_at = serializers.DateTimeField(allow_null=True)
    rule = serializers.CharField()
    rules = serializers.ListField(child=serializers.CharField(), help_text="Rules the run has results for.")
    currency = serializers.CharField()
    results = SavingsRowSerializer(many=True)


class ComparisonCellSerializer(serializers.Serializer):
    scenario = serializers.IntegerField()
    run = serializers.IntegerField(help_text="The run whose results these are.")
    standalone_cost_usd = serializers.FloatField(allow_null=True)
    allocated_cost_usd = serializers.FloatField(allow_null=True)
    savings_usd = serializers.FloatField(allow_null=True)
    savings_pct = serializers.FloatField(allow_null=True)
    savings_diff_usd = serializers.FloatField(allow_null=True, help_text="Savings minus the baseline's, US$.")
    savings_pct_diff_points = serializers.FloatField(
        allow_null=True, help_text="Savings % minus the baseline's, percentage points."
    )
    no_consortium_cost_usd = serializers.FloatField(allow_null=True, help_text="Going alone without the consortium.")
    savings_vs_no_consortium_usd = serializers.FloatField(
        allow_null=True, help_text="Savings against a world without the consortium (median), US$."
    )
    savings_vs_no_consortium_pct = serializers.FloatField(allow_null=True)
    savings_central_change_usd = serializers.FloatField(
        allow_null=True,
        help_text="Scenarios after the baseline: the lab's change in savings at central parameters, US$ (null for "
        "the baseline, or where the runs' inputs cannot be compared step by step).",
    )
    attribution_usd = serializers.DictField(
        child=serializers.FloatField(),
        allow_null=True,
        help_text="Scenarios after the baseline: {difference key: change in the lab's savings that difference made, "
        "US$}, in the order of `explained[].differences`; the values add up to `savings_central_change_usd`.",
    )


class ComparisonRowSerializer(serializers.Serializer):
    lab = serializers.IntegerField(allow_null=True)
    lab_name = serializers.CharField()
    scenarios = ComparisonCellSerializer(many=True)


class ComparedScenarioSerializer(RunMetaSerializer):
    scenario = serializers.IntegerField()
    scenario_name = serializers.CharField()
    run = serializers.IntegerField()


class AttributionDifferenceSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="`lab_added.<lab>`, `lab_removed.<lab>`, `parameter.<name>` or "
        "`lab_input.<lab>.<field>`; names the CSV's `due_to[<key>]` column."
    )
    kind = serializers.ChoiceField(choices=["lab_added", "lab_removed", "parameter", "lab_input"])
    lab = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    label = serializers.CharField()
    old = serializers.JSONField(
        allow_null=True, help_text="The baseline run's value (null for a lab joining or leaving)."
    )
    new = serializers.JSONField(allow_null=True, help_text="The other run's value.")
    overridden = serializers.BooleanField(help_text="The lab input was a scenario override in either run.")


class AttributionMemberSerializer(serializers.Serializer):
    lab_name = serializers.CharField()
    savings_central_baseline_usd = serializers.FloatField(help_text="0 where the lab is not in the baseline.")
    savings_central_usd = serializers.FloatField(help_text="0 where the lab is not in this scenario.")
    change_usd = serializers.FloatField()
    bars_usd = serializers.ListField(
        child=serializers.FloatField(), help_text="One per difference, in order; they add up to `change_usd`."
    )


class ExplainedScenarioSerializer(serializers.Serializer):
    scenario = serializers.IntegerField()
    run = serializers.IntegerField()
    rule = serializers.CharField()
    error = serializers.CharField(allow_null=True, help_text="Why no attribution could be computed (custom games).")
    differences = AttributionDifferenceSerializer(many=True)
    members = AttributionMemberSerializer(many=True)


class ComparisonReportSerializer(PageSerializer):
    consortium = serializers.SlugField()
    rule = serializers.CharField()
    baseline = serializers.IntegerField(help_text="The scenario differences are taken from.")
    scenarios = ComparedScenarioSerializer(many=True)
    currency = serializers.CharField()
    explained = ExplainedScenarioSerializer(
        many=True,
        help_text="Per scenario after the baseline: what differs between its run's inputs and the baseline run's, and "
        "each member's change in savings at central parameters attributed one at a time (docs/model.md).",
    )
    results = ComparisonRowSerializer(many=True)


class ContributionRowSerializer(serializers.Serializer):
    lab = serializers.IntegerField(required=False, help_text="With group_by=lab.")
    lab_name = serializers.CharField(required=False)
    period = serializers.CharField(required=False, help_text="Calendar quarter, e.g. 2026-Q1 (group_by=period).")
    period_start = serializers.DateField(required=False)
    gpu_type = serializers.CharField(required=False, help_text="With group_by=gpu_type.")
    entries = serializers.IntegerField(help_text="Ledger entries summed (corrections included).")
    gpu_hours_pledged = serializers.FloatField()
    gpu_hours_delivered = serializers.FloatField()
    delivery_rate_pct = serializers.FloatField(allow_null=True, help_text="Delivered / pledged GPU-hours, %.")
    pledged_value_usd = serializers.FloatField()
    delivered_value_usd = serializers.FloatField()
    cash_usd = serializers.FloatField()


class WindowReportSerializer(PageSerializer):
    consortium = serializers.SlugField()
    window = serializers.CharField(help_text="The window keyword, `custom` for start/end, or `all`.")
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)


class ContributionsReportSerializer(WindowReportSerializer):
    group_by = serializers.ListField(child=serializers.CharField())
    results = ContributionRowSerializer(many=True)


class ReuseRowSerializer(serializers.Serializer):
    lab = serializers.IntegerField()
    lab_name = serializers.CharField()
    gpu_hours_saved = serializers.FloatField(help_text="Realized GPU-hours saved, as logged by reusing labs.")
    reuses = serializers.IntegerField()
    artifacts = serializers.IntegerField(help_text="Distinct artifacts reused.")


class ReuseReportSerializer(WindowReportSerializer):
    by = serializers.CharField()
    total_gpu_hours_saved = serializers.FloatField()
    results = ReuseRowSerializer(many=True)


class ErrorBodySerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(required=False, child=serializers.ListField(child=serializers.CharField()))


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


# API keys ----------------------------------------------------------------------------------


class ApiKeySerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField(help_text="active, expired or revoked.")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "state",
            "created_by",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        ]
        read_only_fields = ["id", "prefix", "state", "created_by", "created_at", "revoked_at", "last_used_at"]

    def get_state(self, api_key: ApiKey) -> str:
        return api_key.state()


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.SerializerMethodField(
        help_text="The full key, `<prefix>.<secret>`. Shown in this response only: store it now."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]

    def get_key(self, api_key: ApiKey) -> str:
        return self.context["token"]
