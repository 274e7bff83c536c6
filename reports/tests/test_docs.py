"""The Python examples of docs/api.md run, as written, against a live server."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from tests import factories as f

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def doc_examples() -> list[str]:
    """The ```python blocks that follow a `<!-- tested -->` marker, in order."""
    return re.findall(r"<!-- tested -->\n```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_doc_marks_an_example_for_each_report():
    blocks = doc_examples()
    assert len(blocks) == 5
    for name in ("savings", "comparison", "contributions", "reuse"):
        assert any(f'report("{name}"' in block for block in blocks), name


@pytest.mark.django_db(transaction=True)
def test_python_examples_in_the_api_doc_run_against_a_live_server(live_server, make_run, make_key, tmp_path):
    consortium = f.ConsortiumFactory(slug="open-frontier")
    labs = [f.LabFactory(name=name) for name in ("Lab North", "Lab South", "Lab West")]
    recorder = f.UserFactory()
    today = timezone.localdate()
    for lab in labs:
        f.MembershipFactory(consortium=consortium, lab=lab)
        f.ComputeContributionFactory(
            lab=lab,
            consortium=consortium,
            recorded_by=recorder,
            period_start=today,
            period_end=today + datetime.timedelta(days=30),
            gpu_hours_pledged=Decimal("1000"),
            gpu_hours_delivered=Decimal("750"),
        )
    f.ArtifactReuseFactory(
        artifact=f.ArtifactFactory(lab=labs[0]), reusing_lab=labs[1], gpu_hours_saved=Decimal("4200")
    )
    everyone = f.ScenarioFactory(consortium=consortium, name="Everyone", labs=labs)
    pair = f.ScenarioFactory(consortium=consortium, name="Pair", labs=labs[:2])
    make_run(everyone, labs)
    make_run(pair, labs[:2], shift=-25_000.0)
    _, token = make_key(consortium)
    env = os.environ | {
        "PLANNER_URL": live_server.url,
        "PLANNER_API_KEY": token,
        "PLANNER_CONSORTIUM": "open-frontier",
        "PLANNER_SCENARIO": str(everyone.pk),
        "PLANNER_SCENARIOS": f"{everyone.pk},{pair.pk}",
    }
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(doc_examples())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == f"Run {everyone.runs.get().pk} of Everyone, rule shapley:"
    assert out[1] == (
        "Lab North: saves $400,000 (40.0%), P10-P90 $200,000 to $600,000, P(saving) 90%, settlement $500,000"
    )
    assert "savings.csv is up to date" in out
    assert (tmp_path / "savings.csv").read_text().startswith("lab,lab_name,standalone_cost_usd,")
    assert "lab | Everyone | Pair" in out
    assert "Lab West | $1,200,000 | -" in out
    assert "Lab North: 750 of 1,000 GPU-hours delivered ($1,800)" in out
    assert "4,200 GPU-hours saved through reuse" in out
    assert "Lab North's artifacts saved others 4,200 GPU-hours" in out
