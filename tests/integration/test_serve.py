"""The real thing: ``cgh-cds serve`` (gunicorn, two gthread workers, preloaded) over HTTP on a real port."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest
import requests

from service.protocol import response_problems
from service.scenarios import Scenario
from service.scenarios import check_response
from service.scenarios import iter_scenarios
from tests.conftest import FIXTURES_DIR
from tests.conftest import REPO_ROOT
from tests.servers import CLI
from tests.servers import running_service

SCENARIOS = [s for s in iter_scenarios(FIXTURES_DIR) if not s.server_resources and s.expect.status == 200]


def _firing(recommendation: str) -> Scenario:
    return next(s for s in SCENARIOS if any(c.recommendation == recommendation for c in s.expect.cards))


def _exercise(base_url: str) -> None:
    discovery = requests.get(f"{base_url}/cds-services", timeout=10)
    assert discovery.status_code == 200
    assert len(discovery.json()["services"]) == 4
    issued = []
    for scenario in SCENARIOS[:12]:
        rolled = scenario.rolled_to(date.today())
        response = requests.post(f"{base_url}/cds-services/{rolled.service}", json=rolled.request, timeout=10)
        body = response.json()
        assert check_response(rolled, response.status_code, body) == [], scenario.path
        assert response_problems(body) == []
        issued.extend(body["cards"])
    assert issued, "the fixtures should produce cards"
    card = issued[0]
    feedback = requests.post(
        f"{base_url}/cds-services/cgh-patient-view/feedback",
        json={
            "feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2025-06-01T00:00:00Z"}]
        },
        timeout=10,
    )
    assert feedback.status_code == 200 and feedback.json() == {"stored": 1}
    bad = requests.post(
        f"{base_url}/cds-services/cgh-patient-view", data=b"{", timeout=10, headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"] == "bad-request"
    # Metrics aggregate across both workers (prometheus multiprocess mode).
    metrics = requests.get(f"{base_url}/metrics", timeout=10).text
    total = sum(float(v) for v in re.findall(r"^cgh_cards_total\{[^}]*\} ([0-9.]+)$", metrics, re.M))
    assert total == len(issued)


def test_serve_answers_fixtures_feedback_and_metrics_on_sqlite(tmp_path: Path) -> None:
    with running_service(tmp_path) as service:
        _exercise(service.base_url)
        assert "Traceback" not in service.log()


@pytest.mark.postgres
def test_serve_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    with running_service(tmp_path, {"CGH_DATABASE_URL": postgres_url}) as service:
        _exercise(service.base_url)


def test_serve_refuses_to_start_with_a_bad_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CLI), "serve", "--port", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "CGH_AUTH": "sometimes"},
    )
    assert result.returncode == 2
    assert "CGH_AUTH" in result.stderr and "Traceback" not in result.stderr


def test_check_validates_content() -> None:
    result = subprocess.run([str(CLI), "check"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cards:" in result.stdout and "openapi.yaml: valid" in result.stdout


def test_evaluate_prints_readable_cards_and_checks_the_expectation() -> None:
    scenario = _firing("pt-first-line")
    result = subprocess.run(
        [str(CLI), "evaluate", str(scenario.path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "] pt-first-line: " in result.stdout and "expectation: PASS" in result.stdout


def test_evaluate_a_bare_request_as_json(tmp_path: Path) -> None:
    scenario = _firing("pt-first-line")
    request_file = tmp_path / "request.json"
    request_file.write_bytes(orjson.dumps(scenario.request))
    result = subprocess.run(
        [
            str(CLI),
            "evaluate",
            str(request_file),
            "--service",
            scenario.service,
            "--json",
            "--today",
            scenario.reference_date.isoformat(),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    body = orjson.loads(result.stdout)
    assert "pt-first-line" in {c["source"]["topic"]["code"] for c in body["cards"]}


def test_replay_against_a_running_service(tmp_path: Path) -> None:
    with running_service(tmp_path) as service:
        result = subprocess.run(
            [str(CLI), "replay", "--url", service.base_url, str(FIXTURES_DIR)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " 0 failed" in result.stdout


def test_python_m_service_cli_matches_console_script() -> None:
    result = subprocess.run([sys.executable, "-m", "service.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "evaluate" in result.stdout
