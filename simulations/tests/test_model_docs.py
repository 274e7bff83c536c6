"""docs/model.md states every parameter exactly as the code defines it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulations.engine.params import GPU_TYPES, LAB_SPECS, PARAMETER_SPECS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text(encoding="utf-8")


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return f"{value[0]:g} per area"
    if isinstance(value, float) and value >= 1e4:
        return f"{value:,.0f}"
    return f"{value:g}"


def _row(name: str) -> list[str]:
    for line in DOC.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells and re.fullmatch(rf"`{name}`( \(lab\))?", cells[0]):
            return cells
    raise AssertionError(f"docs/model.md has no parameter row for {name}")


@pytest.mark.parametrize("spec", list(PARAMETER_SPECS.values()), ids=lambda s: s.name)
def test_docs_list_each_scenario_parameter_with_its_default_range_and_source(spec):
    _, default, allowed, plausible, unit, source = _row(spec.name)
    assert default == _fmt(spec.default)
    if spec.kind != "bool":
        assert allowed == f"{_fmt(spec.low)} - {_fmt(spec.high)}"
    assert plausible == (f"{_fmt(spec.plausible_low)} - {_fmt(spec.plausible_high)}" if spec.uncertain else "fixed")
    assert unit == spec.unit
    assert source == spec.source


@pytest.mark.parametrize("name", ["rd_share", "price_per_gpu_hour", "final_run_gpu_hours", "openness"])
def test_docs_list_each_lab_parameter_with_its_default_and_source(name):
    spec = LAB_SPECS[name]
    _, default, allowed, _, unit, source = _row(name)
    assert default == _fmt(spec.default)
    assert allowed == f"{_fmt(spec.low)} - {_fmt(spec.high)}"
    assert unit == spec.unit
    assert source == spec.source


@pytest.mark.parametrize("gpu", list(GPU_TYPES.values()), ids=lambda g: g.name)
def test_docs_list_each_gpu_type_with_its_throughput_and_source(gpu):
    line = next(line for line in DOC.splitlines() if line.startswith(f"| {gpu.name} |"))
    assert f"| {gpu.tflops_bf16_dense:g} |" in line
    assert f"| ${gpu.price_per_hour:.2f} |" in line
    assert gpu.source.rstrip(".") in line
