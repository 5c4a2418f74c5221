"""``POST /sandbox/evaluate/{service_id}`` against the contract: on, off, and behind the admin token.

The shipped Bundle (``fhir_bundles/``, the S01 fixture's data as an export holds it) must get the cards the S01
fixture expects, and every answer must follow ``openapi.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder

from service.config import AuthMode
from service.scenarios import check_response
from service.scenarios import load_scenario
from service.scenarios import roll_dates
from service.web.docs import SANDBOX_PATH
from service.web.docs import OpenApiDocument
from tests.contract.oas import FIXTURES_DIR
from tests.contract.oas import REPO_ROOT
from tests.contract.oas import build_app

BUNDLE_FILE = REPO_ROOT / "fhir_bundles" / "s01-new-cgh-no-pt-transaction.json"
SCENARIO = load_scenario(FIXTURES_DIR / "pt-first-line" / "s01-new-cgh-no-pt-patient-view.json")
ADMIN_TOKEN = "sandbox-admin-token"


def _bundle_today() -> dict[str, Any]:
    bundle = orjson.loads(BUNDLE_FILE.read_bytes())
    return dict(roll_dates(bundle, (date.today() - date.fromisoformat(bundle["timestamp"][:10])).days))


def _bundle_with_two_patients() -> dict[str, Any]:
    bundle = _bundle_today()
    entry = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    twin = {**entry, "resource": {**entry["resource"], "id": "another-patient"}}
    if "fullUrl" in entry:
        twin["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000001"
    return {**bundle, "entry": [*bundle["entry"], twin]}


@pytest.fixture(scope="module")
def openapi(contract: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(contract)


def _app(folder: Path, **overrides: Any) -> Iterator[Flask]:
    app = build_app(folder, **overrides)
    yield app
    app.extensions["cgh_runtime"].store.dispose()


@pytest.fixture(scope="module")
def sandbox_on(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    for app in _app(tmp_path_factory.mktemp("sandbox-on"), sandbox=True):
        yield app.test_client()


@pytest.fixture(scope="module")
def sandbox_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    for app in _app(tmp_path_factory.mktemp("sandbox-off")):
        yield app.test_client()


@pytest.fixture(scope="module")
def sandbox_with_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    folder = tmp_path_factory.mktemp("sandbox-auth")
    clients = folder / "trusted-clients.json"
    clients.write_text(json.dumps([{"iss": "https://ehr.example.org", "jku_allowlist": ["https://ehr.example.org/jwks"]}]))
    for app in _app(folder, sandbox=True, auth=AuthMode.REQUIRED, trusted_clients_path=clients,
                    admin_token=ADMIN_TOKEN):
        yield app.test_client()


#: Any bearer token: with CGH_AUTH=off the app ignores it, and the contract declares the admin token.
ANY_TOKEN = "contract-test-token"


def call(client: FlaskClient, openapi: OpenAPI, path: str, body: Any, token: str | None = ANY_TOKEN,
         query: str = "") -> tuple[int, Any, list[str]]:
    """POST ``body``; the status, the JSON answer and every way request or response misses the contract
    (the request's security is not checked when ``token`` is None: that is the case under test)."""
    options: dict[str, Any] = {"method": "POST", "data": json.dumps(body).encode(), "content_type": "application/json",
                               "headers": {"Authorization": f"Bearer {token}"} if token else {},
                               "query_string": query}
    request = WerkzeugOpenAPIRequest(EnvironBuilder(path=path, **options).get_request())
    response = client.open(path, **options)
    errors = [f"request: {e}" for e in openapi.iter_request_errors(request)
              if token or "Security" not in type(e).__name__]
    answer = WerkzeugOpenAPIResponse(response)
    errors += [f"response: {e}: {e.__cause__}" for e in openapi.iter_response_errors(request, answer)]
    return response.status_code, response.get_json(silent=True), errors


def test_the_shipped_bundle_gets_the_fixture_cards(sandbox_on: FlaskClient, openapi: OpenAPI) -> None:
    status, body, errors = call(sandbox_on, openapi, "/sandbox/evaluate/cgh-patient-view", _bundle_today())
    assert (status, errors) == (200, [])
    assert SCENARIO.expect.cards
    assert check_response(SCENARIO, status, body) == []


def test_a_drafted_order_reaches_the_order_services(sandbox_on: FlaskClient, openapi: OpenAPI) -> None:
    # Spinal manipulation (SNOMED 229565008 in the pathway's value sets) drafted for a patient without PT.
    status, body, errors = call(sandbox_on, openapi, "/sandbox/evaluate/cgh-order-select", _bundle_today(),
                                query="draftCode=http://snomed.info/sct|91251008")
    assert (status, errors) == (200, [])
    assert isinstance(body["cards"], list)


def test_the_sandbox_is_refused_when_off(sandbox_off: FlaskClient, openapi: OpenAPI) -> None:
    status, body, errors = call(sandbox_off, openapi, "/sandbox/evaluate/cgh-patient-view", _bundle_today())
    assert (status, body["error"], errors) == (404, "sandbox-off", [])


def test_the_sandbox_needs_the_admin_token_when_auth_is_required(
    sandbox_with_auth: FlaskClient, openapi: OpenAPI
) -> None:
    path = "/sandbox/evaluate/cgh-patient-view"
    for token in (None, "wrong"):
        status, body, errors = call(sandbox_with_auth, openapi, path, _bundle_today(), token=token)
        assert (status, body, errors) == (401, {"error": "unauthorized"}, [])
    status, body, errors = call(sandbox_with_auth, openapi, path, _bundle_today(), token=ADMIN_TOKEN)
    assert (status, errors) == (200, [])
    assert check_response(SCENARIO, status, body) == []


@pytest.mark.parametrize(
    ("path", "body", "query", "expected"),
    [
        ("/sandbox/evaluate/cgh-patient-view", {"resourceType": "Bundle", "type": "document", "entry": []}, "",
         (400, "bad-request")),
        ("/sandbox/evaluate/cgh-patient-view", {"resourceType": "Bundle", "type": "collection", "entry": []}, "",
         (422, "unprocessable-data")),
        # Found by scripts/fuzz (schemathesis' positive-data check): schema-valid Bundles, refused with 400.
        ("/sandbox/evaluate/cgh-patient-view", {"resourceType": "Bundle", "type": "batch"}, "",
         (422, "unprocessable-data")),
        ("/sandbox/evaluate/cgh-patient-view", "BUNDLE", "patientId=0", (422, "unprocessable-data")),
        ("/sandbox/evaluate/cgh-patient-view", "TWO PATIENTS", "", (422, "unprocessable-data")),
        ("/sandbox/evaluate/cgh-unknown", "BUNDLE", "", (404, "unknown-service")),
        ("/sandbox/evaluate/cgh-encounter-start", "BUNDLE", "", (422, "unprocessable-data")),  # no Encounter in it
        ("/sandbox/evaluate/cgh-patient-view", "BUNDLE", "draftCode=no-bar", (400, "bad-request")),
    ],
    ids=["document-bundle", "no-patient", "no-entry", "unknown-patient", "two-patients", "unknown-service",
         "no-encounter", "malformed-draft-code"],
)
def test_bad_sandbox_calls_get_documented_errors(
    sandbox_on: FlaskClient, openapi: OpenAPI, path: str, body: Any, query: str, expected: tuple[int, str]
) -> None:
    bodies = {"BUNDLE": _bundle_today(), "TWO PATIENTS": _bundle_with_two_patients()}
    status, answer, errors = call(sandbox_on, openapi, path, bodies.get(body, body) if isinstance(body, str) else body,
                                  query=query)
    assert (status, answer["error"]) == expected
    assert answer["message"]
    # These requests break the contract on purpose (a document Bundle, an unknown service id); every answer keeps it.
    assert [e for e in errors if not e.startswith("request: ")] == []


def test_the_served_document_has_the_bundle_example_dated_today() -> None:
    document = OpenApiDocument().build(date.today())
    examples = document["paths"][SANDBOX_PATH]["post"]["requestBody"]["content"]["application/json"]["examples"]
    example = examples[BUNDLE_FILE.stem]["value"]
    assert example == _bundle_today()
    assert example["timestamp"].startswith(date.today().isoformat())
