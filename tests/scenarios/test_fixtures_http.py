"""Every scenario of fhir_fixtures/ over HTTP (the Flask app in-process), its dates rolled to today.

Each file is its own test id. Scenarios whose data sits on a FHIR server (``serverResources``) run against a
real FHIR server in tests/integration/test_fhir_fallback.py.
"""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient

from service.protocol import response_problems
from service.scenarios import Scenario
from service.scenarios import check_response
from service.scenarios import iter_scenarios
from tests.conftest import FIXTURES_DIR

SCENARIOS = [s for s in iter_scenarios(FIXTURES_DIR) if not s.server_resources]


def test_there_are_fixtures_for_every_recommendation() -> None:
    from service.pathway import RecommendationId

    fired = {card.recommendation for s in SCENARIOS for card in s.expect.cards}
    absent = {rec for s in SCENARIOS for rec in s.expect.absent}
    assert {r.value for r in RecommendationId} <= fired, "every recommendation needs a fixture that fires it"
    assert {r.value for r in RecommendationId} <= absent, "every recommendation needs a fixture that must not fire it"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: str(s.path.relative_to(FIXTURES_DIR)))
def test_fixture_produces_its_expected_cards(client: FlaskClient, scenario: Scenario) -> None:
    rolled = scenario.rolled_to(date.today())
    response = client.post(f"/cds-services/{rolled.service}", json=rolled.request)
    body = response.get_json(silent=True)
    assert check_response(rolled, response.status_code, body) == []
    if response.status_code == 200:
        assert response_problems(body) == []
