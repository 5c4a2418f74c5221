"""``cgh-cds evaluate --today D`` evaluates as of D (revision-2 C20): the pathway's today, ages and look-backs.

In-process through the command's own entry point. The PT fixtures are dated around their referenceDate
(2025-06-01); evaluated as of a date more than 12 months later, their sessions fall out of the look-back, so
the cards show which date the pathway used.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest

from service.cli import main
from service.scenarios import load_scenario
from tests.conftest import FIXTURES_DIR

IN_PROGRESS = FIXTURES_DIR / "pt-trial-in-progress" / "s18-ten-sessions-in-5-weeks-patient-view.json"


def _cards(capsys: pytest.CaptureFixture[str], *args: str) -> set[str]:
    assert main(["evaluate", "--json", *args]) == 0
    body = orjson.loads(capsys.readouterr().out)
    return {card["source"]["topic"]["code"] for card in body["cards"]}


def test_a_bare_request_is_evaluated_as_of_the_given_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = load_scenario(IN_PROGRESS)
    request = tmp_path / "request.json"
    request.write_bytes(orjson.dumps(scenario.request))  # not rolled: its dates are those of 2025
    as_of_reference = _cards(capsys, str(request), "--service", scenario.service, "--today", "2025-06-01")
    assert "pt-trial-in-progress" in as_of_reference and "pt-first-line" not in as_of_reference
    # Eighteen months later the same sessions are outside the 12-month look-back: no PT on record.
    later = _cards(capsys, str(request), "--service", scenario.service, "--today", "2026-12-01")
    assert "pt-first-line" in later and "pt-trial-in-progress" not in later


@pytest.mark.parametrize("today", ["2025-06-01", "2027-02-28"])
def test_a_fixture_moved_to_the_day_passes_its_expectation(today: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--today", today, str(IN_PROGRESS)]) == 0
    assert "expectation: PASS" in capsys.readouterr().out


def test_without_today_the_real_date_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = load_scenario(IN_PROGRESS).rolled_to(date.today())
    request = tmp_path / "request.json"
    request.write_bytes(orjson.dumps(scenario.request))
    assert "pt-trial-in-progress" in _cards(capsys, str(request), "--service", scenario.service)
