"""An optional prefetch key the EHR cannot provide gives 200 with a note, never 412, never an escalation.

Issue 16: the patient and the conditions are essential; any other key that cannot be read (the EHR's FHIR
server answers 400 to the search, as strict EHR APIs do) leaves the service judging what it can, naming the
key on the affected cards, in the data-notes extension and in ``/metrics``. Real HTTP end to end: the
service in-process, and a FHIR stub on loopback that answers the refused search with 400 and an
OperationOutcome.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from flask import Flask

from service import create_app
from service.config import Settings
from service.invocation import DATA_NOTES_EXTENSION
from service.protocol import response_problems
from service.scenarios import Scenario
from service.scenarios import iter_scenarios
from tests.conftest import FIXTURES_DIR
from tests.unit.fhir.conftest import StubFhirServer
from tests.unit.fhir.conftest import searchset

REFUSED = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "not-supported", "diagnostics": "search not supported"}],
}


def _scenario(name: str) -> Scenario:
    for scenario in iter_scenarios(FIXTURES_DIR):
        if str(scenario.path.relative_to(FIXTURES_DIR)) == name:
            return scenario.rolled_to(date.today())
    raise AssertionError(f"fixture {name} not found")


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings.with_overrides(fhir_timeout_s=5.0))


def _call(app: Flask, scenario: Scenario, prefetch: dict[str, Any], server: str) -> tuple[int, dict[str, Any]]:
    body = copy.deepcopy(scenario.request)
    body["prefetch"] = prefetch
    body["fhirServer"] = server
    body["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/*.read", "subject": "cgh-cds"}
    response = app.test_client().post(f"/cds-services/{scenario.service}", json=body)
    return response.status_code, response.get_json()


def _cards(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {card["source"]["topic"]["code"]: card for card in body["cards"]}


@pytest.mark.parametrize(
    ("fixture", "card"),
    [
        # The anticoagulant MedicationRequest is on the server only; the Z79.01 Condition still shows it.
        ("manipulation-contraindicated/s09-fhir-fallback-medications-order-sign.json", "manipulation-contraindicated"),
        # No contraindication on record: the risk card, which must say the medications were not checked.
        ("manipulation-risk/manipulation-no-contraindication-order-sign.json", "manipulation-risk"),
    ],
)
def test_unreadable_medications_are_named_on_the_manipulation_card(
    app: Flask, fhir_stub: StubFhirServer, fixture: str, card: str
) -> None:
    scenario = _scenario(fixture)
    fhir_stub.route("/fhir/MedicationRequest", REFUSED, status=400)
    fhir_stub.route("/fhir/Encounter", searchset())
    prefetch = {key: value for key, value in scenario.request["prefetch"].items() if key != "medicationrequests"}

    status, body = _call(app, scenario, prefetch, fhir_stub.base_url)

    assert status == 200, body
    assert response_problems(body) == []
    cards = _cards(body)
    assert card in cards, sorted(cards)
    detail = cards[card]["detail"]
    assert "medications could not be read from the EHR; check for anticoagulants before manipulation" in detail
    notes = body["extension"][DATA_NOTES_EXTENSION]
    assert any("'medicationrequests'" in note and "400" in note for note in notes), notes
    assert all(card["indicator"] != "critical" for card in body["cards"])

    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'cgh_prefetch_unavailable_total{key="medicationrequests"} 1.0' in metrics


def test_unreadable_observations_never_escalate(app: Flask, fhir_stub: StubFhirServer) -> None:
    """Adequate PT on record; the treatment-response Observations sit behind a refused search."""
    scenario = _scenario("escalate-occipital-nerve-block/s03-fhir-fallback-patient-view.json")
    procedures = [r for r in scenario.server_resources if r.get("resourceType") == "Procedure"]
    assert procedures and any(r.get("resourceType") == "Observation" for r in scenario.server_resources)
    prefetch = dict(scenario.request["prefetch"])
    prefetch["procedures"] = searchset(*procedures)
    prefetch["encounters"] = searchset()
    fhir_stub.route("/fhir/Observation", REFUSED, status=400)

    status, body = _call(app, scenario, prefetch, fhir_stub.base_url)

    assert status == 200, body
    assert response_problems(body) == []
    cards = _cards(body)
    assert not {"escalate-occipital-nerve-block", "escalate-percutaneous", "refractory-options"} & set(cards)
    assert "pt-document-response" in cards, sorted(cards)
    assert "observations (treatment response, block relief, pregnancy status) could not be read" in cards[
        "pt-document-response"
    ]["detail"]
    assert any("'observations'" in note for note in body["extension"][DATA_NOTES_EXTENSION])


def test_unreadable_conditions_are_still_412(app: Flask, fhir_stub: StubFhirServer) -> None:
    scenario = _scenario("manipulation-contraindicated/s09-fhir-fallback-medications-order-sign.json")
    fhir_stub.route("/fhir/Condition", REFUSED, status=400)
    fhir_stub.route("/fhir/MedicationRequest", REFUSED, status=400)
    fhir_stub.route("/fhir/Encounter", searchset())
    prefetch = {key: value for key, value in scenario.request["prefetch"].items() if key != "conditions"}

    status, body = _call(app, scenario, prefetch, fhir_stub.base_url)

    assert status == 412, body
    assert "'conditions'" in str(body) and "'medicationrequests'" not in str(body)
