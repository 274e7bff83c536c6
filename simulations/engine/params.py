"""Inputs of the cost model: labs and scenario parameters, with their specifications.

`PARAMETER_SPECS` is the single source for every scenario parameter's default, allowed range
(validation), plausible range (Monte Carlo), unit and source note. `LAB_SPECS` does the same for
the per-lab fields that have a documented range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import InvalidParameterError

AREAS: tuple[str, ...] = (
    "pretraining_data",
    "architecture_scaling",
    "post_training_rl",
    "evaluation",
    "infrastructure_kernels",
    "safety",
)
AREA_LABELS: dict[str, str] = {
    "pretraining_data": "Pretraining data",
    "architecture_scaling": "Architecture and scaling",
    "post_training_rl": "Post-training and RL",
    "evaluation": "Evaluation",
    "infrastructure_kernels": "Infrastructure and kernels",
    "safety": "Safety",
}

H100_PRICE = 2.40
ALL_IN_UPLIFT = 1.3


@dataclass(frozen=True)
class GpuType:
    """A GPU type: its throughput in H100-equivalents (dense BF16) and its rental price."""

    name: str
    tflops_bf16_dense: float
    price_per_hour: float
    source: str

    @property
    def h100_factor(self) -> float:
        return self.tflops_bf16_dense / GPU_TYPES["H100"].tflops_bf16_dense


# Dense BF16 tensor throughput (without structured sparsity) from the vendors' datasheets; the
# H800 and H200 share the H100's compute die and differ in interconnect and memory. Prices are
# the planning rental rates of DOMAIN.md, before the all-in uplift.
GPU_TYPES: dict[str, GpuType] = {
    gpu.name: gpu
    for gpu in (
        GpuType("H100", 989.0, 2.40, "NVIDIA H100 SXM datasheet: 1,979 TFLOPS BF16 with sparsity, 989 dense."),
        GpuType("H800", 989.0, 2.00, "NVIDIA H800 SXM datasheet: same BF16 tensor throughput as the H100 SXM."),
        GpuType("H200", 989.0, 3.50, "NVIDIA H200 SXM datasheet: 1,979 TFLOPS BF16 with sparsity, 989 dense."),
        GpuType("A100", 312.0, 1.20, "NVIDIA A100 SXM datasheet: 312 TFLOPS BF16 dense (624 with sparsity)."),
    )
}
OTHER_GPU = "other"


def h100_factor(gpu_type: str, own_factor: float | None = None) -> float:
    """H100-equivalent GPU-hours per hour of `gpu_type`; a lab's own factor wins when given."""
    if own_factor is not None:
        if isinstance(own_factor, bool) or not isinstance(own_factor, int | float) or not math.isfinite(own_factor):
            raise InvalidParameterError(f"throughput factor must be a number, got {_short(own_factor)}")
        if not 0.01 <= own_factor <= 100:
            raise InvalidParameterError(
                f"throughput factor = {_short(own_factor)} is outside its allowed range [0.01, 100] H100-equivalents"
            )
        return float(own_factor)
    if gpu_type not in GPU_TYPES:
        known = ", ".join(GPU_TYPES)
        raise InvalidParameterError(
            f"unknown GPU type {_short(gpu_type)}: choose one of {known}, or give the lab's own throughput factor"
        )
    return GPU_TYPES[gpu_type].h100_factor


def _short(value: Any) -> str:
    """A value for an error message, cut short: a 400-digit number need not be echoed whole."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        # str() of an int over 4,300 digits raises, so the size comes from its bit length.
        return f"a number of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: default, allowed range [low, high], plausible range, unit and source.

    `kind` is "float", "int", "bool" or "area" (one float per research area, same ranges).
    The plausible range is what Monte Carlo draws from; it equals the default when the
    parameter is not uncertain.
    """

    name: str
    label: str
    default: Any
    low: float
    high: float
    unit: str
    source: str
    plausible_low: float
    plausible_high: float
    kind: str = "float"

    @property
    def min(self) -> float:
        return self.low

    @property
    def max(self) -> float:
        return self.high

    @property
    def uncertain(self) -> bool:
        return self.kind in ("float", "area") and self.plausible_low < self.plausible_high

    def check(self, value: Any) -> None:
        """Raise InvalidParameterError unless `value` is valid for this parameter."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise InvalidParameterError(f"{self.name} must be true or false, got {value!r}")
            return
        if self.kind == "area":
            if not isinstance(value, tuple | list) or len(value) != len(AREAS):
                raise InvalidParameterError(
                    f"{self.name} needs one value per research area ({len(AREAS)}), got {value!r}"
                )
            for area, item in zip(AREAS, value, strict=True):
                self._check_number(item, f"{self.name}[{area}]")
            return
        if self.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidParameterError(f"{self.name} must be a whole number, got {value!r}")
        self._check_number(value, self.name)

    def _check_number(self, value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParameterError(f"{where} must be a number, got {_short(value)}")
        # Bounds first: Python compares a huge int with a float bound exactly, whereas
        # math.isfinite() overflows on it.
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidParameterError(f"{where} must be finite, got {value!r}")
        if not self.low <= value <= self.high:
            raise InvalidParameterError(
                f"{where} = {_short(value)} is outside its allowed range [{self.low}, {self.high}] {self.unit}"
            )

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if isinstance(out["default"], tuple):
            out["default"] = list(out["default"])
        return out


PARAMETER_SPECS: dict[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        ParamSpec(
            "shareable_fraction",
            "Shareable fraction of R&D (per area)",
            (0.5,) * len(AREAS),
            0.0,
            1.0,
            "fraction",
            "Planning estimate: about half of R&D is shareable (0.3-0.7); the rest is integration "
            "with a lab's own hardware, data and infrastructure.",
            0.3,
            0.7,
            "area",
        ),
        ParamSpec(
            "replication",
            "Replication factor",
            1.2,
            1.0,
            3.0,
            "x",
            "The commons repeats key experiments on purpose; >= 1. Planning assumption.",
            1.0,
            1.5,
        ),
        ParamSpec(
            "absorption",
            "Absorption cost",
            0.10,
            0.0,
            1.0,
            "fraction",
            "Cost to read, reproduce and adapt shared research (Cohen & Levinthal 1990, "
            "absorptive capacity); 0.05-0.3.",
            0.05,
            0.30,
        ),
        ParamSpec(
            "coordination_fixed",
            "Coordination overhead, fixed",
            1_000_000.0,
            0.0,
            1e9,
            "$/year",
            "Secretariat, legal and shared tooling of the consortium. Planning assumption; no published estimate.",
            500_000.0,
            3_000_000.0,
        ),
        ParamSpec(
            "coordination_per_member",
            "Coordination overhead per member",
            250_000.0,
            0.0,
            1e8,
            "$/member/year",
            "Liaison and review effort per member. Planning assumption.",
            100_000.0,
            500_000.0,
        ),
        ParamSpec(
            "coordination_exponent",
            "Coordination growth exponent",
            1.0,
            1.0,
            2.0,
            "",
            "Overhead grows as members^exponent; 1 is linear, above 1 faster than linear.",
            1.0,
            1.3,
        ),
        ParamSpec(
            "pool_price",
            "Pool price per GPU-hour",
            round(H100_PRICE * ALL_IN_UPLIFT, 2),
            0.01,
            100.0,
            "$/GPU-hour",
            "What the commons pays per H100-equivalent GPU-hour: H100-class $2.40 x all-in uplift 1.3; the range runs "
            "from H100-class rental at $2.40 to H200-class at $3.50 x 1.3.",
            2.40,
            4.55,
        ),
        ParamSpec(
            "shared_base_model",
            "Shared base model",
            False,
            0.0,
            1.0,
            "",
            "If on, the commons trains one base model (up to the largest member's final run, as far as that pays) and "
            "members fine-tune it instead of training their own.",
            0.0,
            0.0,
            "bool",
        ),
        ParamSpec(
            "finetune_fraction",
            "Fine-tuning fraction",
            0.10,
            0.0,
            1.0,
            "fraction of F",
            "With a shared base model, each member still spends this fraction of its own final "
            "run. Planning assumption.",
            0.05,
            0.20,
        ),
        ParamSpec(
            "horizon_years",
            "Horizon",
            1,
            1,
            20,
            "years",
            "Years simulated, one model generation per year.",
            1,
            1,
            "int",
        ),
        ParamSpec(
            "growth",
            "Compute growth",
            3.0,
            1.0,
            10.0,
            "x/year",
            "Final runs and R&D grow by this factor per year; frontier training compute grew about "
            "4-5x/yr (Epoch AI, 2024), 3x is a conservative default.",
            2.0,
            4.0,
        ),
        ParamSpec(
            "depreciation",
            "Knowledge depreciation",
            0.4,
            0.0,
            1.0,
            "1/year",
            "Share of the commons' knowledge stock that goes stale each year (0.3-0.7). Planning assumption.",
            0.3,
            0.7,
        ),
        ParamSpec(
            "compounding",
            "Knowledge compounding",
            0.5,
            0.0,
            1.0,
            "",
            "How strongly the commons' knowledge stock cuts the research it still has to do each year; at 1 a "
            "stock of one year's work halves it. Planning assumption; no published estimate.",
            0.0,
            1.0,
        ),
        ParamSpec(
            "embargo_months",
            "Publication embargo",
            6.0,
            0.0,
            24.0,
            "months",
            "Months members see the commons' work before the public. Planning assumption: sponsored-research "
            "agreements commonly delay publication by 1-3 months; member-only periods of consortia run longer.",
            3.0,
            12.0,
        ),
        ParamSpec(
            "spillover_share",
            "Spillover share",
            0.5,
            0.0,
            1.0,
            "fraction",
            "Share of the commons' published work an outsider can use (at the absorption cost) once the embargo "
            "ends; outsiders lack the members' context and tooling. Planning assumption; no published estimate.",
            0.3,
            0.7,
        ),
        ParamSpec(
            "discount_rate",
            "Discount rate",
            0.08,
            0.0,
            0.5,
            "1/year",
            "Present value of future years; typical cost of capital 3-12%.",
            0.03,
            0.12,
        ),
    )
}

LAB_SPECS: dict[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        ParamSpec(
            "final_run_gpu_hours",
            "Final run compute",
            2_788_000.0,
            0.0,
            1e12,
            "GPU-hours",
            "GPU-hours of the lab's GPU type in its final training run (DeepSeek-V3: 2.788M H800 hours).",
            2_788_000.0,
            2_788_000.0,
        ),
        ParamSpec(
            "rd_share",
            "R&D share of development compute",
            0.80,
            0.0,
            0.99,
            "fraction",
            "Ai2 Olmo 3: about 0.82; Epoch AI: final runs 10-30% of R&D; 0.33 a lower bound.",
            0.70,
            0.90,
        ),
        ParamSpec(
            "price_per_gpu_hour",
            "Price per GPU-hour",
            round(H100_PRICE * ALL_IN_UPLIFT, 2),
            0.01,
            100.0,
            "$/GPU-hour",
            "Per hour of the lab's GPU type: H100 $2.40, H800 $2.00, A100 $1.20, H200 $3.50, times an all-in "
            "uplift of about 1.3.",
            2.40,
            4.55,
        ),
        ParamSpec(
            "openness",
            "Openness",
            1.0,
            0.0,
            1.0,
            "fraction",
            "Share of its shareable research a lab runs on shared work: drawn from the commons and published into it.",
            1.0,
            1.0,
        ),
        ParamSpec(
            "weight",
            "Member weight",
            1.0,
            0.0,
            1e12,
            "",
            "For the weighted rule: a CERN-style scale, an ITER-style share, or compute delivered.",
            1.0,
            1.0,
        ),
        ParamSpec(
            "delivered_value",
            "Compute delivered in kind",
            0.0,
            0.0,
            1e15,
            "$",
            "Money value of compute delivered to the commons, for the settlement.",
            0.0,
            0.0,
        ),
    )
}

# Names Monte Carlo may draw: scenario parameters plus the per-lab R&D share.
LAB_UNCERTAIN: tuple[str, ...] = ("rd_share",)
DEFAULT_UNCERTAIN: tuple[str, ...] = (
    tuple(name for name, spec in PARAMETER_SPECS.items() if spec.uncertain) + LAB_UNCERTAIN
)


def _spec_default(name: str) -> Any:
    return PARAMETER_SPECS[name].default


@dataclass(frozen=True)
class Params:
    """Scenario parameters; see PARAMETER_SPECS for units, ranges and sources. Money is in $."""

    shareable_fraction: tuple[float, ...] = field(default_factory=lambda: tuple(_spec_default("shareable_fraction")))
    replication: float = 1.2
    absorption: float = 0.10
    coordination_fixed: float = 1_000_000.0
    coordination_per_member: float = 250_000.0
    coordination_exponent: float = 1.0
    pool_price: float = 3.12
    shared_base_model: bool = False
    finetune_fraction: float = 0.10
    horizon_years: int = 1
    growth: float = 3.0
    depreciation: float = 0.4
    compounding: float = 0.5
    embargo_months: float = 6.0
    spillover_share: float = 0.5
    discount_rate: float = 0.08

    def __post_init__(self) -> None:
        if isinstance(self.shareable_fraction, list):
            object.__setattr__(self, "shareable_fraction", tuple(self.shareable_fraction))
        for spec in PARAMETER_SPECS.values():
            spec.check(getattr(self, spec.name))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["shareable_fraction"] = [float(v) for v in self.shareable_fraction]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Params:
        unknown = set(data) - set(PARAMETER_SPECS)
        if unknown:
            raise InvalidParameterError(f"unknown scenario parameter(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        if "shareable_fraction" in values:
            values["shareable_fraction"] = tuple(values["shareable_fraction"])
        return cls(**values)


@dataclass(frozen=True)
class LabInput:
    """One lab. `area_weights` has one entry per AREAS item and sums to 1.

    `final_run_gpu_hours` and `price_per_gpu_hour` are in hours of the lab's `gpu_type`; the model
    converts them to H100-equivalent hours with the type's throughput factor (GPU_TYPES), or with
    the lab's own `throughput_factor` when given (required for a type not in GPU_TYPES).
    """

    name: str
    final_run_gpu_hours: float
    rd_share: float
    price_per_gpu_hour: float
    area_weights: tuple[float, ...]
    openness: float = 1.0
    weight: float = 1.0
    delivered_value: float = 0.0
    gpu_type: str = "H100"
    throughput_factor: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidParameterError("a lab needs a non-empty name")
        if "+" in self.name:
            raise InvalidParameterError(f"lab name {self.name!r} must not contain '+'")
        if isinstance(self.area_weights, list):
            object.__setattr__(self, "area_weights", tuple(self.area_weights))
        for name, spec in LAB_SPECS.items():
            try:
                spec.check(getattr(self, name))
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"lab {self.name!r}: {exc}") from None
        weights = self.area_weights
        if not isinstance(weights, tuple) or len(weights) != len(AREAS):
            raise InvalidParameterError(
                f"lab {self.name!r}: area_weights needs {len(AREAS)} values ({', '.join(AREAS)})"
            )
        for value in weights:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InvalidParameterError(f"lab {self.name!r}: area weight {value!r} is not a number")
            if value < 0:
                raise InvalidParameterError(f"lab {self.name!r}: area weight {value!r} is negative")
        if abs(sum(weights) - 1.0) > 1e-6:
            raise InvalidParameterError(f"lab {self.name!r}: area_weights sum to {sum(weights):.6g}, not 1")
        try:
            h100_factor(self.gpu_type, self.throughput_factor)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"lab {self.name!r}: {exc}") from None

    @property
    def h100_factor(self) -> float:
        """H100-equivalent GPU-hours per hour of this lab's GPU type."""
        return h100_factor(self.gpu_type, self.throughput_factor)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["area_weights"] = [float(v) for v in self.area_weights]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabInput:
        values = dict(data)
        values["area_weights"] = tuple(values["area_weights"])
        return cls(**values)
