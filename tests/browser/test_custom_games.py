"""Bring your own game in Chromium: upload an airport game, split it on a worker, read the results."""

from __future__ import annotations

import re

import pytest

from simulations.tests.engine.test_airport import BIRMINGHAM
from tests.browser.seed import seed_world

from .conftest import DESKTOP, PHONE
from .test_journeys import assert_painted

pytestmark = pytest.mark.browser

# Littlechild and Thompson (1977), Table 1: Birmingham's runway, cost of each aircraft type's runway
# length and its landings in 1968-69.
RUNWAY = "player,cost,count\n" + "\n".join(f"{name},{cost},{count}" for name, count, cost in BIRMINGHAM)


def test_a_coordinator_uploads_an_airport_game_and_reads_the_split(page, log_in, screenshot, start_worker, tmp_path):
    world = seed_world()
    start_worker(concurrency=1)
    log_in("coord", world.password)
    page.goto(world.consortium.get_absolute_url())
    page.get_by_role("link", name="Bring your own game").first.click()

    page.get_by_label("Name").fill("Runway")
    page.get_by_label(re.compile("Airport game")).check()
    # A bad table first: the error names the line and nothing is saved.
    page.get_by_label("Paste the game").fill("player,cost\nA,1\nA,2\n")
    page.get_by_role("button", name="Save game").click()
    page.get_by_text("Line 3: player 'A' is duplicated (first on line 2).").wait_for()

    path = tmp_path / "runway.csv"
    path.write_text(RUNWAY)
    page.get_by_label("Paste the game").fill("")
    page.get_by_label("…or upload a file").set_input_files(str(path))
    page.get_by_label("Shapley value", exact=True).check()
    page.get_by_label("Nucleolus", exact=True).check()
    screenshot("custom-game-form", phone=True)
    page.get_by_role("button", name="Save game").click()
    page.get_by_text("Game “Runway” saved").wait_for()
    assert (
        page.get_by_role("cell", name="9,555").is_visible()
        and page.get_by_text("11 types, 13,572 players").is_visible()
    )
    screenshot("custom-game")

    page.get_by_role("button", name="Split the cost").click()
    page.get_by_role("link", name="View results").wait_for(timeout=60_000)
    page.get_by_role("link", name="View results").click()
    assert_painted(page, "chart-costs")
    table = page.locator(".members-table")
    # Shapley per landing, as Littlechild and Thompson published: 4.86 for the Fokker F27, 162.24 for the 707.
    assert "Fokker Friendship 27: 42 players; each pays 4.86 instead of 65,899.00 alone." in table.inner_text()
    assert "Boeing 707: 22 players; each pays 162.24 instead of 117,676.00 alone." in table.inner_text()
    assert page.get_by_text("Shapley value: stable (in the core)").is_visible()
    # On a phone each type's figures stack under its name: the savings stay inside the viewport.
    page.set_viewport_size(PHONE)
    box = page.locator(".members-table td.savings").first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    page.set_viewport_size(DESKTOP)
    screenshot("custom-game-results", phone=True)
    page.get_by_role("link", name="Nucleolus").first.click()
    assert page.get_by_text("Nucleolus: stable (in the core)").is_visible()
