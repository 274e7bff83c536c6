"""GPU types: H100-equivalence factors from dense BF16 throughput, a lab's own factor, and the errors."""

from __future__ import annotations

import pytest

from simulations.engine import GPU_TYPES, InvalidParameterError, LabInput
from simulations.engine.params import h100_factor

from .helpers import EVEN_AREAS


@pytest.mark.parametrize(
    ("gpu_type", "own", "expected"),
    [
        ("H100", None, 1.0),
        ("H800", None, 1.0),
        ("H200", None, 1.0),
        ("A100", None, 312 / 989),
        ("A100", 0.5, 0.5),
        ("H100", 2.0, 2.0),
        ("other", 1.3, 1.3),
        ("MI300X", 1.32, 1.32),
        ("other", 0.01, 0.01),
        ("other", 100, 100.0),
    ],
)
def test_h100_factor(gpu_type: str, own: float | None, expected: float) -> None:
    assert h100_factor(gpu_type, own) == pytest.approx(expected, rel=1e-15)
    lab = LabInput("x", 1e6, 0.8, 3.12, EVEN_AREAS, gpu_type=gpu_type, throughput_factor=own)
    assert lab.h100_factor == pytest.approx(expected, rel=1e-15)


UNKNOWN = "choose one of H100, H800, H200, A100, or give the lab's own throughput factor"


@pytest.mark.parametrize(
    ("gpu_type", "own", "message"),
    [
        ("TPUv5", None, f"unknown GPU type 'TPUv5': {UNKNOWN}"),
        ("other", None, f"unknown GPU type 'other': {UNKNOWN}"),
        ("h100", None, f"unknown GPU type 'h100': {UNKNOWN}"),
        ("H100", 0.0, "throughput factor = 0.0 is outside its allowed range [0.01, 100] H100-equivalents"),
        ("A100", 0.005, "throughput factor = 0.005 is outside its allowed range [0.01, 100] H100-equivalents"),
        ("other", 101.0, "throughput factor = 101.0 is outside its allowed range [0.01, 100] H100-equivalents"),
        ("other", -1.0, "throughput factor = -1.0 is outside its allowed range [0.01, 100] H100-equivalents"),
        ("other", float("nan"), "throughput factor must be a number, got nan"),
        ("other", float("inf"), "throughput factor must be a number, got inf"),
        ("other", True, "throughput factor must be a number, got True"),
        ("other", "2", "throughput factor must be a number, got '2'"),
    ],
)
def test_bad_gpu_types_and_factors_name_the_problem(gpu_type: str, own: object, message: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        h100_factor(gpu_type, own)  # type: ignore[arg-type]
    assert str(caught.value) == message
    with pytest.raises(InvalidParameterError) as caught:
        LabInput("x", 1e6, 0.8, 3.12, EVEN_AREAS, gpu_type=gpu_type, throughput_factor=own)  # type: ignore[arg-type]
    assert str(caught.value) == f"lab 'x': {message}"


@pytest.mark.parametrize(
    ("gpu_type", "tflops", "price"),
    [("H100", 989.0, 2.40), ("H800", 989.0, 2.00), ("H200", 989.0, 3.50), ("A100", 312.0, 1.20)],
)
def test_gpu_types_carry_their_datasheet_throughput_price_and_source(
    gpu_type: str, tflops: float, price: float
) -> None:
    """Dense BF16 throughput from the datasheet, the planning rental price before uplift, a source."""
    gpu = GPU_TYPES[gpu_type]
    assert (gpu.tflops_bf16_dense, gpu.price_per_hour) == (tflops, price)
    assert "datasheet" in gpu.source
