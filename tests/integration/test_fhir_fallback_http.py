"""Cards over HTTP are the same whether the EHR prefetches or the service fetches from its FHIR server.

For every fixture that answers 200: seed the real FHIR test server (Medplum's in-memory R4 engine) with the
fixture's data, then call the service in-process twice — with the fixture's prefetch, and with no prefetch
at all but ``fhirServer`` + ``fhirAuthorization`` — and compare the cards. Fixtures whose data lives only on
the server (``serverResources``) are checked against their expected cards here, and again against the
strict mode of the server (issue 16: US Core SHALL searches only, 400 otherwise, small pages of its own).
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.config import Settings
from service.protocol import response_problems
from service.scenarios import Scenario
from service.scenarios import check_response
from service.scenarios import iter_scenarios
from tests.conftest import FIXTURES_DIR
from tests.integration.conftest import MedplumServer
from tests.integration.test_fhir_fallback import resources_of

pytestmark = pytest.mark.fhirserver

SCENARIOS = [
    pytest.param(s, id=str(s.path.relative_to(FIXTURES_DIR)))
    for s in iter_scenarios(FIXTURES_DIR)
    if s.expect.status == 200 and (s.request.get("prefetch") or s.server_resources)
]


@pytest.fixture
def fallback_app(settings: Settings) -> Flask:
    # Medplum's in-memory search takes 50-150 ms a query on this machine: give the fallback room.
    return create_app(settings.with_overrides(fhir_timeout_s=20.0))


def _signature(cards: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What must not depend on where the data came from: which advice, how urgent, what it suggests."""
    signature = []
    for card in cards:
        actions = tuple(
            (action["type"], action.get("resourceId"), action.get("resource", {}).get("resourceType"))
            for suggestion in card.get("suggestions", []) for action in suggestion.get("actions", [])
        )
        signature.append((card["source"]["topic"]["code"], card["indicator"], card["summary"], actions))
    return signature


def _without_prefetch(request: dict[str, Any], server: str) -> dict[str, Any]:
    body = copy.deepcopy(request)
    body.pop("prefetch", None)
    body["fhirServer"] = server
    body["fhirAuthorization"] = {"access_token": "fallback-test-token", "token_type": "Bearer",
                                 "expires_in": 300, "scope": "user/*.read", "subject": "cgh-cds"}
    return body


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_cards_are_the_same_with_and_without_prefetch(
    scenario: Scenario, medplum: MedplumServer, fallback_app: Flask
) -> None:
    rolled = scenario.rolled_to(date.today())
    medplum.seed(resources_of(rolled))
    client: FlaskClient = fallback_app.test_client()
    url = f"/cds-services/{rolled.service}"

    fetched = client.post(url, json=_without_prefetch(rolled.request, medplum.base_url))
    assert fetched.status_code == 200, fetched.get_json()
    fetched_body = fetched.get_json()
    assert response_problems(fetched_body) == []
    assert check_response(rolled, fetched.status_code, fetched_body) == []

    if not scenario.server_resources:
        prefetched = client.post(url, json=rolled.request)
        assert _signature(fetched_body["cards"]) == _signature(prefetched.get_json()["cards"])


STRICT_SCENARIOS = [param for param in SCENARIOS if param.values[0].server_resources]


@pytest.mark.parametrize("scenario", STRICT_SCENARIOS)
def test_server_resource_fixtures_pass_against_a_strict_server(
    scenario: Scenario, strict_medplum: MedplumServer, fallback_app: Flask
) -> None:
    """With the fixture's prefetch and with none at all: the expected cards, and no key left unread."""
    rolled = scenario.rolled_to(date.today())
    strict_medplum.seed(resources_of(rolled))
    client: FlaskClient = fallback_app.test_client()
    url = f"/cds-services/{rolled.service}"
    with_prefetch = copy.deepcopy(rolled.request)
    with_prefetch["fhirServer"] = strict_medplum.base_url
    for body in (with_prefetch, _without_prefetch(rolled.request, strict_medplum.base_url)):
        response = client.post(url, json=body)
        assert response.status_code == 200, response.get_json()
        answer = response.get_json()
        assert response_problems(answer) == []
        assert check_response(rolled, response.status_code, answer) == []
        notes = answer.get("extension", {}).get("org.example.cgh-cds.data-notes", [])
        assert not any("could not" in note or "judged without" in note for note in notes), notes
