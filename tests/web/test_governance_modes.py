"""Modes in the running app: silent cards are audited but not returned, off cards neither; per-client overrides;
every change of the governance file is in the trail with its time; versions and trends in analytics and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from service import create_app
from service.config import Settings
from service.invocation import answer_hook
from service.scenarios import iter_scenarios
from service.services import get_service
from tests.conftest import FIXTURES_DIR

ISS = "https://ehr.example.org"


def _pt_first_line_request() -> tuple[str, dict[str, Any]]:
    """A scenario whose expected cards are pt-first-line and at least one other."""
    scenario = next(s for s in iter_scenarios(FIXTURES_DIR) if s.expect.status == 200 and not s.server_resources
                    and len(s.expect.cards) >= 2
                    and any(c.recommendation == "pt-first-line" for c in s.expect.cards))
    rolled = scenario.rolled_to(date.today())
    return rolled.service, rolled.request


def _app(settings: Settings, tmp_path: Path, governance: str | None) -> Flask:
    path = None
    if governance is not None:
        path = tmp_path / "governance.yaml"
        path.write_text(governance)
    return create_app(settings.with_overrides(governance_path=path))


def _audited(app: Flask) -> list[tuple[str, str, str]]:
    with app.extensions["cgh_runtime"].store.engine.connect() as connection:
        rows = connection.execute(text("SELECT recommendation, version, mode FROM cards_issued")).all()
    return sorted((str(r[0]), str(r[1]), str(r[2])) for r in rows)


def _topics(body: dict[str, Any]) -> list[str]:
    return [card["source"]["topic"]["code"] for card in body["cards"]]


def test_every_card_carries_its_content_version_and_the_audit_keys_on_it(client: FlaskClient, app: Flask) -> None:
    service, request = _pt_first_line_request()
    cards = client.post(f"/cds-services/{service}", json=request).get_json()["cards"]
    library = app.extensions["cgh_runtime"].cards
    for card in cards:
        topic = card["source"]["topic"]
        assert topic["version"] == next(c.version for r, c in library.cards.items() if r.value == topic["code"])
    assert _audited(app) == sorted((c["source"]["topic"]["code"], c["source"]["topic"]["version"], "active")
                                   for c in cards)


def test_silent_is_audited_not_returned_and_off_is_neither(settings: Settings, tmp_path: Path) -> None:
    service, request = _pt_first_line_request()
    baseline = create_app(settings.with_overrides(database_url=f"sqlite:///{tmp_path / 'baseline.sqlite3'}"))
    everything = _topics(baseline.test_client().post(f"/cds-services/{service}", json=request).get_json())
    assert "pt-first-line" in everything and len(everything) >= 2, everything
    other = next(rec for rec in everything if rec != "pt-first-line")

    app = _app(settings, tmp_path, f"recommendations:\n  pt-first-line: silent\n  {other}: 'off'\n")
    body = app.test_client().post(f"/cds-services/{service}", json=request).get_json()
    assert _topics(body) == [rec for rec in everything if rec not in {"pt-first-line", other}]
    modes = {rec: mode for rec, _, mode in _audited(app)}
    assert modes["pt-first-line"] == "silent"
    assert other not in modes
    assert all(mode == "active" for rec, mode in modes.items() if rec != "pt-first-line")

    figures = {r["recommendation"]: r for r in app.test_client().get("/analytics/recommendations").get_json()[
        "recommendations"]}
    assert (figures["pt-first-line"]["cardsIssued"], figures["pt-first-line"]["cardsSilent"]) == (0, 1)
    assert figures["pt-first-line"]["mode"] == "silent" and figures[other]["mode"] == "off"
    with app.extensions["cgh_runtime"].store.engine.connect() as connection:
        shown = connection.execute(text("SELECT recommendations FROM invocations")).scalar_one()
    assert "pt-first-line" not in shown.split()


def test_a_client_override_beats_the_site_mode(settings: Settings, tmp_path: Path) -> None:
    service_id, request = _pt_first_line_request()
    app = _app(settings, tmp_path, f"recommendations:\n  pt-first-line: silent\nclients:\n  {ISS}:\n"
                                   "    recommendations:\n      pt-first-line: active\n")
    runtime = app.extensions["cgh_runtime"]
    service = get_service(service_id)
    with app.app_context():
        for_client = answer_hook(service, request, runtime, today=date.today(), client_iss=ISS)
        for_others = answer_hook(service, request, runtime, today=date.today(), client_iss="https://other.example")
    assert "pt-first-line" in _topics(for_client)
    assert "pt-first-line" not in _topics(for_others)


def test_each_change_of_the_governance_file_is_in_the_trail_with_its_time(settings: Settings, tmp_path: Path) -> None:
    started = datetime.now(UTC)
    _app(settings, tmp_path, None)
    _app(settings, tmp_path, None)  # a restart with the same modes adds nothing
    _app(settings, tmp_path, "recommendations:\n  pt-first-line: silent\n")
    app = _app(settings, tmp_path, "recommendations:\n  pt-first-line: silent\n  red-flags: active\n")  # same modes
    answer = app.test_client().get("/analytics/governance").get_json()
    assert answer["site"]["pt-first-line"] == "silent" and answer["source"].endswith("governance.yaml")
    history = answer["history"]  # newest first
    assert len(history) == 2
    assert history[0]["changes"] == [
        {"client": None, "recommendation": "pt-first-line", "from": "active", "to": "silent"}]
    assert datetime.fromisoformat(history[0]["effectiveAt"]) >= datetime.fromisoformat(history[1]["effectiveAt"])
    assert datetime.fromisoformat(history[1]["effectiveAt"]) >= started.replace(microsecond=0)


def test_trends_and_csv_per_recommendation_and_version(app: Flask, client: FlaskClient) -> None:
    service, request = _pt_first_line_request()
    cards = client.post(f"/cds-services/{service}", json=request).get_json()["cards"]
    card = next(c for c in cards if c["source"]["topic"]["code"] == "pt-first-line")
    suggestion = card["suggestions"][0]
    feedback = {"feedback": [
        {"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion["uuid"]}],
         "outcomeTimestamp": "2025-06-01T10:00:00Z"},
        {"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion["uuid"]}],
         "outcomeTimestamp": "2025-06-01T10:00:05Z"},  # a repeat counts once
    ]}
    assert client.post(f"/cds-services/{service}/feedback", json=feedback).status_code == 200
    today = datetime.now(UTC).date()
    trends = client.get(f"/analytics/trends?from={today.isoformat()}&to={today.isoformat()}").get_json()
    assert trends["days"] == [today.isoformat()]
    series = next(s for s in trends["series"] if s["recommendation"] == "pt-first-line" and s["current"])
    version = card["source"]["topic"]["version"]
    assert series["version"] == version
    assert series["daily"] == [{"day": today.isoformat(), "shown": 1, "silent": 0}]
    assert [(w["accepted"], w["overridden"], w["overrideRate"]) for w in series["weekly"]] == [(1, 0, 0.0)]
    offered = {s["label"]: (s["offered"], s["accepted"]) for s in series["suggestions"]}
    assert offered[suggestion["label"]] == (1, 1)

    exported = client.get(f"/analytics/recommendations.csv?from={today.isoformat()}&to={today.isoformat()}")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    mine = [r for r in rows if r["recommendation"] == "pt-first-line" and r["version"] == version]
    assert {"figure": "cards_shown", "period": today.isoformat(), "value": "1"}.items() <= next(
        r for r in mine if r["figure"] == "cards_shown").items()
    assert next(r for r in mine if r["figure"] == "override_rate")["value"] == "0.0"
    accepted = [r for r in mine if r["figure"] == "suggestion_accepted"]
    assert [(r["value"]) for r in accepted if r["value"] != "0"] == ["1"]

    yesterday = date.fromordinal(today.toordinal() - 1).isoformat()
    earlier = client.get(f"/analytics/trends?from={yesterday}&to={yesterday}").get_json()
    assert all(d["shown"] == 0 for s in earlier["series"] for d in s["daily"])


def test_a_bad_date_is_400(client: FlaskClient) -> None:
    for query in ("from=2025-13-01", "to=", "to=0001-01-01", "from=20250601", "to=9999-12-31", "from=2025-W01-1"):
        response = client.get(f"/analytics/trends?{query}")
        assert response.status_code == 400, query
        assert client.get(f"/analytics/recommendations.csv?{query}").status_code == 400


def test_reversed_and_over_long_ranges_are_read_as_documented(client: FlaskClient) -> None:
    reversed_range = client.get("/analytics/trends?from=2025-06-02&to=2025-06-01").get_json()
    assert (reversed_range["from"], reversed_range["to"]) == ("2025-06-01", "2025-06-02")
    long_range = client.get("/analytics/trends?from=2020-01-01&to=2025-01-01").get_json()
    # The last 731 days (2024 is a leap year).
    assert (long_range["from"], long_range["to"]) == ("2023-01-02", "2025-01-01")
