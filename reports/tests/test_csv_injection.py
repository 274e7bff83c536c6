"""CSV downloads never hand a spreadsheet a formula: typed text starting with = + - @ is neutralised
with a leading quote, on the pages and in the API, while numbers (negative ones too) stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from consortium.csv_export import safe_cell
from simulations.models import MemberResult

pytestmark = pytest.mark.django_db

EVIL_LAB = '=HYPERLINK("http://evil.example","x")'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("Lab A", "Lab A"),
        ("a=b", "a=b"),
        ("", ""),
        (-12.5, -12.5),
        (-3, -3),
        (0, 0),
        (None, None),
        (True, True),
    ],
)
def test_safe_cell_quotes_formula_text_and_leaves_numbers_alone(value, written):
    assert safe_cell(value) == written


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    return list(csv.reader(io.StringIO(response.content.decode())))


def cells_of(response) -> set[str]:
    return {cell for row in rows_of(response) for cell in row}


@pytest.fixture
def evil(ledger):
    ledger.lab_b.name = EVIL_LAB
    ledger.lab_b.save()
    ledger.artifact_a.title = "@SUM(1,2)"
    ledger.artifact_a.save()
    ledger.reuse_b.note = "+cmd|' /C calc'!A0"
    ledger.reuse_b.save()
    return ledger


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/consortia/c/reuse.csv", {"'" + EVIL_LAB, "'@SUM(1,2)", "'+cmd|' /C calc'!A0"}),
        ("/consortia/c/artifacts.csv", {"'@SUM(1,2)"}),
        ("/consortia/c/contributions.csv", {"'" + EVIL_LAB}),
        ("/labs/lab-a/artifacts.csv", {"'@SUM(1,2)"}),
        ("/labs/lab-b/reuse.csv", {"'@SUM(1,2)", "'+cmd|' /C calc'!A0"}),
        ("/labs/lab-b/ledger.csv", {"'" + EVIL_LAB}),
    ],
)
def test_page_csv_downloads_neutralise_formulas_typed_by_users(evil, client_as, url, expected):
    cells = cells_of(client_as("coordinator").get(url)) | cells_of(client_as("user_b").get(url))
    assert expected <= cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@")]


@pytest.fixture
def evil_run(evil, make_run):
    run = make_run(evil.scenario, [evil.lab_a, evil.lab_b])
    MemberResult.objects.filter(run=run).update(settlement=-1234.5)
    return run


def test_run_csv_neutralises_lab_names_and_keeps_negative_numbers(evil_run, client_as):
    rows = rows_of(client_as("coordinator").get(f"/simulations/runs/{evil_run.pk}/members.csv"))
    header, body = rows[0], rows[1:]
    lab, settlement = header.index("lab"), header.index("settlement_usd")
    assert {row[lab] for row in body} == {"Lab A", "'" + EVIL_LAB}
    assert {row[settlement] for row in body} == {"-1234.5"}


def test_api_csv_neutralises_lab_names_and_keeps_negative_numbers(evil_run, client_as):
    response = client_as("coordinator").get(
        "/api/v1/consortia/c/reports/savings/", {"scenario": evil_run.scenario_id, "format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["lab_name"] for row in rows} == {"Lab A", "'" + EVIL_LAB}
    assert {row["settlement_usd"] for row in rows} == {"-1234.5"}
    reuse = client_as("coordinator").get("/api/v1/consortia/c/reports/reuse/", {"format": "csv"})
    assert "'" + EVIL_LAB in cells_of(reuse)
