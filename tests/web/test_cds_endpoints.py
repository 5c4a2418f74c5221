"""The CDS Hooks endpoints over the Flask test client: discovery, invocation, feedback, and exact errors."""

from __future__ import annotations

import copy
import logging
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from service import create_app
from service.config import Settings
from service.protocol import response_problems
from service.scenarios import iter_scenarios
from service.services import SERVICES
from tests.conftest import FIXTURES_DIR

_TOKEN = re.compile(r"\{\{([^}]+)\}\}")
_ALLOWED_TOKENS = {"context.patientId", "context.userId", "context.encounterId", "userPractitionerId",
                   "userPractitionerRoleId", "userPatientId", "userRelatedPersonId"}


def _empty_bundle() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": 0}


def _no_cgh_request(hook: str = "patient-view", **context: Any) -> dict[str, Any]:
    """A well-formed request for a patient with no headache diagnosis at all."""
    return {
        "hook": hook,
        "hookInstance": "0b8a1f4e-5d43-4c5a-9d3e-6f1a2b3c4d5e",
        "context": {"userId": "Practitioner/example", "patientId": "p1", **context},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "p1", "birthDate": "1980-01-01"},
            "conditions": _empty_bundle(),
            "procedures": _empty_bundle(),
            "servicerequests": _empty_bundle(),
            "medicationrequests": _empty_bundle(),
            "observations": None,
            "encounters": None,
        },
    }


def _scenario(recommendation: str) -> Any:
    return next(s for s in iter_scenarios(FIXTURES_DIR) if s.path.parent.name == recommendation
                and s.expect.status == 200 and not s.server_resources
                and any(c.recommendation == recommendation for c in s.expect.cards))


def test_discovery_lists_the_four_services_with_2_0_prefetch_tokens(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = response.get_json()["services"]
    assert {(s["id"], s["hook"]) for s in services} == {(s.id, s.hook.value) for s in SERVICES}
    for service in services:
        assert service["description"] and service["title"] and service["usageRequirements"]
        for template in service["prefetch"].values():
            assert set(_TOKEN.findall(template)) <= _ALLOWED_TOKENS, template


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.id)
def test_a_patient_without_cgh_gets_exactly_no_cards(client: FlaskClient, service: Any) -> None:
    context: dict[str, Any] = {}
    if service.hook.value == "encounter-start":
        context["encounterId"] = "e1"
    if service.hook.value in {"order-select", "order-sign"}:
        draft = {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order",
                 "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "amoxicillin"}}
        context["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": draft}]}
        if service.hook.value == "order-select":
            context["selections"] = ["MedicationRequest/m1"]
    response = client.post(f"/cds-services/{service.id}", json=_no_cgh_request(service.hook.value, **context))
    assert response.status_code == 200
    assert response.get_json() == {"cards": []}


def test_a_cgh_patient_gets_valid_cards_named_by_recommendation(client: FlaskClient) -> None:
    scenario = _scenario("pt-first-line")
    response = client.post(f"/cds-services/{scenario.service}", json=scenario.rolled_to(date.today()).request)
    body = response.get_json()
    assert response.status_code == 200
    assert response_problems(body) == []
    assert "pt-first-line" in {card["source"]["topic"]["code"] for card in body["cards"]}


def _error(response: Any) -> dict[str, Any]:
    body = response.get_json()
    assert isinstance(body, dict), response.data
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post("/cds-services/cgh-patient-view", data=b'{"hook": ', content_type="application/json")
    assert response.status_code == 400
    body = _error(response)
    assert body["error"] == "bad-request" and "not valid JSON" in body["message"]


def test_non_json_body_is_415(client: FlaskClient) -> None:
    response = client.post("/cds-services/cgh-patient-view", data="hook=patient-view", content_type="text/plain")
    assert response.status_code == 415
    assert _error(response)["error"] == "unsupported-media-type"


def test_body_over_the_limit_is_413(settings: Settings) -> None:
    app = create_app(settings.with_overrides(max_body_mb=0.01))
    body = _no_cgh_request()
    body["padding"] = "x" * 20_000
    response = app.test_client().post("/cds-services/cgh-patient-view", json=body)
    assert response.status_code == 413
    assert _error(response)["error"] == "payload-too-large"


def test_unknown_service_is_404_naming_the_services(client: FlaskClient) -> None:
    response = client.post("/cds-services/no-such-service", json=_no_cgh_request())
    assert response.status_code == 404
    body = _error(response)
    assert body["error"] == "unknown-service" and "cgh-patient-view" in body["message"]


def test_unknown_path_is_404_json(client: FlaskClient) -> None:
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert _error(response)["error"] == "not-found"


def test_get_on_a_service_is_405_with_allow(client: FlaskClient) -> None:
    response = client.get("/cds-services/cgh-patient-view")
    assert response.status_code == 405
    assert _error(response)["error"] == "method-not-allowed"
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("mutate", "code", "fragment"),
    [
        (lambda b: b.pop("hookInstance"), "bad-request", "hookInstance"),
        (lambda b: b.pop("context"), "bad-request", "context"),
        (lambda b: b["context"].pop("patientId"), "bad-request", "context.patientId"),
        (lambda b: b.update(hook="order-sign"), "wrong-hook", "patient-view"),
        (lambda b: b.update(fhirAuthorization={"access_token": "t", "token_type": "Bearer"}), "bad-request",
         "fhirServer"),
        (lambda b: b.update(context=[]), "bad-request", "context"),
    ],
)
def test_bad_requests_are_400_with_an_actionable_message(
    client: FlaskClient, mutate: Any, code: str, fragment: str
) -> None:
    body = copy.deepcopy(_no_cgh_request())
    mutate(body)
    response = client.post("/cds-services/cgh-patient-view", json=body)
    assert response.status_code == 400
    error = _error(response)
    assert error["error"] == code and fragment in error["message"]


def test_missing_prefetch_without_fhir_server_is_412_naming_the_key(client: FlaskClient) -> None:
    body = _no_cgh_request()
    del body["prefetch"]["conditions"]
    response = client.post("/cds-services/cgh-patient-view", json=body)
    assert response.status_code == 412
    error = _error(response)
    assert error["error"] == "fhir-data-unavailable" and "conditions" in error["message"]


def test_feedback_is_stored_before_the_200(app: Flask, client: FlaskClient) -> None:
    scenario = _scenario("pt-first-line")
    request = scenario.rolled_to(date.today()).request
    cards = client.post(f"/cds-services/{scenario.service}", json=request).get_json()["cards"]
    card = next(c for c in cards if c["source"]["topic"]["code"] == "pt-first-line")
    feedback = {"feedback": [
        {"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
         "outcomeTimestamp": "2025-06-01T10:00:00.000Z"},
        {"card": card["uuid"], "outcome": "overridden", "overrideReason": {"reason": {"code": "patient-declined"}},
         "outcomeTimestamp": "2025-06-01T10:01:00Z"},
    ]}
    response = client.post(f"/cds-services/{scenario.service}/feedback", json=feedback)
    assert response.status_code == 200
    assert response.get_json() == {"stored": 2}
    store = app.extensions["cgh_runtime"].store
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT recommendation, outcome FROM feedback ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("pt-first-line", "accepted"), ("pt-first-line", "overridden")]
    summary = client.get("/analytics/recommendations").get_json()["recommendations"]
    row = next(r for r in summary if r["recommendation"] == "pt-first-line")
    assert row["accepted"] == 1 and row["overridden"] == 1 and row["overrideRate"] == 0.5


def test_invalid_feedback_is_400_and_stores_nothing(app: Flask, client: FlaskClient) -> None:
    response = client.post("/cds-services/cgh-patient-view/feedback",
                           json={"feedback": [{"card": "c", "outcome": "maybe", "outcomeTimestamp": "2025-01-01"}]})
    assert response.status_code == 400
    assert "outcome" in _error(response)["message"]
    with app.extensions["cgh_runtime"].store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM feedback")).scalar() == 0


def test_feedback_for_unknown_service_is_404(client: FlaskClient) -> None:
    response = client.post("/cds-services/nope/feedback", json={"feedback": []})
    assert response.status_code == 404


def test_health_readiness_and_metrics(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.get_json()
    assert body["status"] == "ready" and body["checks"]["database"] == "ok"
    assert "CGH_AUTH=off" in body["warning"]
    client.post("/cds-services/cgh-patient-view", json=_no_cgh_request())
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "flask_http_request_duration_seconds" in metrics
    assert "cgh_cards_total" in metrics


def test_metrics_count_cards_per_recommendation(client: FlaskClient) -> None:
    scenario = _scenario("pt-first-line")
    client.post(f"/cds-services/{scenario.service}", json=scenario.rolled_to(date.today()).request)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert re.search(r'cgh_cards_total\{.*recommendation="pt-first-line".*\} 1\.0', metrics), metrics


def test_logs_hold_no_patient_data_or_tokens(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    body = _no_cgh_request()
    body["context"]["patientId"] = "patient-identifier-xyz"
    body["prefetch"]["patient"]["id"] = "patient-identifier-xyz"
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    body["fhirAuthorization"] = {"access_token": "token-abc-123", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/*.read", "subject": "cgh"}
    del body["prefetch"]["conditions"]  # essential: unobtainable, so refused with 412 (issue 16)
    service_logger = logging.getLogger("service")  # does not propagate to root: attach the capture directly
    service_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level("DEBUG", logger="service"):
            response = client.post("/cds-services/cgh-patient-view", json=body)
    finally:
        service_logger.removeHandler(caplog.handler)
    assert response.status_code == 412
    assert caplog.records, "the refused request should have been logged"
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "token-abc-123" not in logged
    assert "patient-identifier-xyz" not in logged


def test_invalid_resources_are_skipped_counted_and_reported(client: FlaskClient) -> None:
    body = _no_cgh_request()
    body["prefetch"]["conditions"] = {
        "resourceType": "Bundle", "type": "searchset",
        "entry": [{"resource": {"resourceType": "Condition", "id": "bad", "subject": {"reference": "Patient/p1"},
                                "onsetDateTime": "not-a-date", "code": {"text": "something"}}}],
    }
    response = client.post("/cds-services/cgh-patient-view", json=body)
    assert response.status_code == 200
    extension = response.get_json()["extension"]
    assert extension["org.example.cgh-cds.skipped-resources"] == 1
    assert any("Condition" in note for note in extension["org.example.cgh-cds.data-notes"])
    assert "cgh_skipped_resources_total 1.0" in client.get("/metrics").get_data(as_text=True)


def test_a_lost_database_is_503_and_readiness_fails(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    store = app.extensions["cgh_runtime"].store
    store.engine.dispose()
    # Point the engine at a database file in a folder that no longer exists: every connection fails.
    from sqlalchemy import create_engine

    store.engine = create_engine(f"sqlite:///{tmp_path}/gone/missing.sqlite3")
    store._sessions.configure(bind=store.engine)
    response = client.post("/cds-services/cgh-patient-view", json=_no_cgh_request())
    assert response.status_code == 503
    assert _error(response)["error"] == "store-unavailable"
    feedback = client.post("/cds-services/cgh-patient-view/feedback", json={"feedback": [
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2025-06-01T00:00:00Z"}]})
    assert feedback.status_code == 503
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "unreachable"


def test_readiness_fails_while_the_server_drains_and_calls_are_still_answered(app: Flask) -> None:
    from service.draining import DrainFlag

    drain = DrainFlag()
    app.extensions["cgh_drain"] = drain
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    drain.raise_flag()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["status"] == "not-ready" and ready.get_json()["checks"]["process"] == "draining"
    assert client.post("/cds-services/cgh-patient-view", json=_no_cgh_request()).status_code == 200
