"""The command-line tools on a user's own data: evaluate a Bundle, snapshot it as a fixture, replay it against a
running service with a JUnit report, and count a population.

Replay talks HTTP to the app behind a real server on a loopback port (werkzeug, in a thread), as it would to a
deployed service.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from junitparser import Failure
from junitparser import JUnitXml
from junitparser import Skipped

from service.cli import main
from service.config import AuthMode
from service.config import Settings
from service.scenarios import load_scenario
from tests.conftest import FIXTURES_DIR
from tests.conftest import REPO_ROOT
from tests.live_app import live_app

BUNDLE = REPO_ROOT / "fhir_bundles" / "s01-new-cgh-no-pt-transaction.json"
S01 = load_scenario(FIXTURES_DIR / "pt-first-line" / "s01-new-cgh-no-pt-patient-view.json")
SYNTHEA = REPO_ROOT / "tests" / "data" / "realworld" / "synthea-r4"
SMALL_SYNTHEA = sorted(SYNTHEA.glob("*.json"), key=lambda p: p.stat().st_size)[:3]


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("replay")
    with live_app(lambda base_url: Settings(auth=AuthMode.OFF, public_base_url=base_url,
                                            database_url=f"sqlite:///{folder}/t.sqlite3", instance_path=folder),
                  name="replay-server") as (base_url, _):
        yield base_url


def _snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "pt-first-line" / "snapshot-s01-patient-view.json"
    assert main(["fixture", "new", "--bundle", str(BUNDLE), "--hook", "patient-view", "--today", "2025-06-01",
                 "--out", str(out)]) == 0
    assert "review it" in capsys.readouterr().out
    return out


def test_evaluate_bundle_prints_one_result_per_patient(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = orjson.loads(BUNDLE.read_bytes())
    synthea = orjson.loads(SMALL_SYNTHEA[0].read_bytes())
    both = tmp_path / "both.json"
    both.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection",
                                   "entry": [*bundle["entry"], *synthea["entry"]]}))
    assert main(["evaluate", "--bundle", str(both), "--hook", "patient-view", "--today", "2025-06-01",
                 "--json"]) == 0
    results = orjson.loads(capsys.readouterr().out)
    assert len(results) == 2
    cards = [{c["source"]["topic"]["code"] for c in r["response"]["cards"]} for r in results]
    assert cards[0] >= {c.recommendation for c in S01.expect.cards}
    assert cards[1] == set()
    assert main(["evaluate", "--bundle", str(both), "--hook", "patient-view", "--today", "2025-06-01"]) == 0
    text = capsys.readouterr().out
    assert text.count("== Patient/") == 2 and "who has no CGH" in text


def test_evaluate_bundle_refuses_bad_input_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "document.json").write_text('{"resourceType": "Bundle", "type": "document", "entry": []}')
    assert main(["evaluate", "--bundle", str(tmp_path / "document.json"), "--hook", "patient-view"]) == 2
    assert "transaction, batch, collection or searchset" in capsys.readouterr().err
    assert main(["evaluate", "--bundle", str(BUNDLE), "--hook", "order-sign", "--draft-code", "nobar"]) == 2
    assert "SYSTEM|CODE" in capsys.readouterr().err
    assert main(["evaluate", "--bundle", str(BUNDLE), "--hook", "no-such-hook"]) == 2


def test_a_snapshot_fixture_is_in_our_format_and_marked_for_review(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _snapshot(tmp_path, capsys)
    raw = orjson.loads(out.read_bytes())
    assert raw["scenario"] == "snapshot" and "review" in raw
    scenario = load_scenario(out)
    assert scenario.expect.exact
    assert {(c.recommendation, c.indicator) for c in scenario.expect.cards} >= {
        (c.recommendation, c.indicator) for c in S01.expect.cards}
    assert scenario.request["hook"] == "patient-view" and "encounters" in scenario.request["prefetch"]
    # A second run does not overwrite the file unless asked.
    assert main(["fixture", "new", "--bundle", str(BUNDLE), "--hook", "patient-view", "--out", str(out)]) == 1


def test_a_snapshot_fixture_replays_green_with_a_junit_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], service_url: str
) -> None:
    out = _snapshot(tmp_path, capsys)
    junit = tmp_path / "reports" / "replay.xml"
    assert main(["replay", str(out.parent), "--url", service_url, "--junit", str(junit)]) == 0
    printed = capsys.readouterr().out
    assert "[1/1] PASS" in printed and "1 passed, 0 failed, 0 skipped" in printed
    assert "fixture" in printed and "latency ms" in printed  # the final table
    report = JUnitXml.fromfile(str(junit))
    (suite,) = list(report)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (1, 0, 0, 0)
    (case,) = list(suite)
    assert case.is_passed and case.name == "snapshot-s01-patient-view.json"


def test_replay_reports_failures_and_skips_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], service_url: str
) -> None:
    out = _snapshot(tmp_path, capsys)
    broken = orjson.loads(out.read_bytes())
    fired = broken["expect"]["cards"][0]["recommendation"]
    broken["expect"]["cards"][0]["indicator"] = "critical" if broken["expect"]["cards"][0]["indicator"] != "critical" \
        else "info"
    out.with_name("broken-patient-view.json").write_bytes(orjson.dumps(broken))
    fallback = next(p for p in sorted(FIXTURES_DIR.rglob("*.json")) if load_scenario(p).server_resources)
    shutil.copy(fallback, out.parent / fallback.name)
    junit = tmp_path / "replay.xml"
    assert main(["replay", str(out.parent), "--url", service_url, "--junit", str(junit)]) == 1
    printed = capsys.readouterr().out
    assert "1 passed, 1 failed, 1 skipped" in printed
    (suite,) = list(JUnitXml.fromfile(str(junit)))
    assert (suite.tests, suite.failures, suite.skipped) == (3, 1, 1)
    outcomes: dict[str, Any] = {case.name: case.result for case in suite}
    (failure,) = outcomes["broken-patient-view.json"]
    assert isinstance(failure, Failure) and fired in failure.message
    (skip,) = outcomes[fallback.name]
    assert isinstance(skip, Skipped)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_population_counts_patients_per_recommendation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    folder = tmp_path / "bundles"
    folder.mkdir()
    for copy in range(3):
        shutil.copy(BUNDLE, folder / f"s01-{copy}.json")
    for path in SMALL_SYNTHEA:
        shutil.copy(path, folder / path.name)
    figures = tmp_path / "population.csv"
    assert main(["population", "--bundles", str(folder), "--hook", "patient-view", "--today", "2025-06-01",
                 "--workers", workers, "--csv", str(figures)]) == 0
    captured = capsys.readouterr()
    assert "6 patients" in captured.out and "6/6" in captured.err  # the summary and the progress bar
    rows = {row["recommendation"]: row for row in csv.DictReader(figures.read_text(encoding="utf-8").splitlines())}
    for card in S01.expect.cards:
        assert rows[card.recommendation]["patients"] == "3"
        assert rows[card.recommendation]["percent_of_patients_with_cgh"] == "100.0"
    assert rows["(no CGH)"]["patients"] == str(len(SMALL_SYNTHEA))
    assert all(row["patients"] == "0" for rec, row in rows.items()
               if rec not in {c.recommendation for c in S01.expect.cards} and not rec.startswith("("))


def test_population_reads_a_bulk_data_ndjson_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.bundles import read_resources

    lines: dict[str, list[bytes]] = {}
    for path in [BUNDLE, *SMALL_SYNTHEA]:
        for resource in read_resources(path):
            lines.setdefault(resource["resourceType"], []).append(orjson.dumps(resource))
    export = tmp_path / "export"
    export.mkdir()
    for resource_type, rows in lines.items():
        (export / f"{resource_type}.ndjson").write_bytes(b"\n".join(rows) + b"\n")
    figures = tmp_path / "population.csv"
    assert main(["population", "--bundles", str(export), "--hook", "patient-view", "--today", "2025-06-01",
                 "--workers", "2", "--csv", str(figures), "--quiet"]) == 0
    rows = {row["recommendation"]: row for row in csv.DictReader(figures.read_text(encoding="utf-8").splitlines())}
    assert rows[S01.expect.cards[0].recommendation]["patients"] == "1"
    assert rows["(no CGH)"]["patients"] == str(len(SMALL_SYNTHEA))
    assert f"{1 + len(SMALL_SYNTHEA)} patients" in capsys.readouterr().out
