"""Every request we send and every answer the app gives is checked against ``openapi.yaml`` with openapi-core.

The requests are every scenario of ``fhir_fixtures/`` (dates rolled to today) and a set of broken ones
(malformed JSON, wrong media type, unknown service, wrong hook, missing fields, wrong method, bad feedback,
a body over the limit). A request the contract calls invalid must be refused by the app (4xx); a request
the contract accepts that the app refuses must get a documented error. Every 200 from a service also passes
the protocol's own strict card checks (:func:`service.protocol.response_problems`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import Config
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder
from werkzeug.test import TestResponse

from service.protocol import response_problems
from service.scenarios import Scenario
from service.scenarios import iter_scenarios
from service.services import SERVICES
from tests.contract.oas import FIXTURES_DIR
from tests.contract.oas import build_app
from tests.contract.oas import schema_errors

#: Any bearer token: with CGH_AUTH=off the app ignores it, and the contract requires one on CDS endpoints.
AUTH = {"Authorization": "Bearer contract-test-token"}
#: Nothing listens on the discard port: the FHIR fallback fails at once, as an unreachable server would.
UNREACHABLE_FHIR_SERVER = "http://127.0.0.1:9/fhir"
SCENARIOS = list(iter_scenarios(FIXTURES_DIR))
PATIENT_VIEW = next(s for s in SCENARIOS if s.service == "cgh-patient-view" and s.expect.status == 200)


def _load_yaml(data: bytes) -> Any:
    return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (safe loader)


def _text(data: bytes) -> str:
    return data.decode("utf-8")


@pytest.fixture(scope="module")
def openapi(contract: dict[str, Any]) -> OpenAPI:
    # The served document is ~1 MB with its examples: libyaml's safe loader reads it several times faster.
    config = Config(
        extra_media_type_deserializers={"application/yaml": _load_yaml, "text/markdown": _text, "text/csv": _text}
    )
    return OpenAPI.from_dict(contract, config=config)


@pytest.fixture(scope="module")
def client(contract_app: Flask) -> FlaskClient:
    return contract_app.test_client()


@dataclass
class Exchange:
    """One request sent to the app, and what openapi-core made of it and of the answer."""

    response: TestResponse
    request_errors: list[str] = field(default_factory=list)
    response_errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def body(self) -> Any:
        return self.response.get_json(silent=True)


def exchange(
    client: FlaskClient,
    openapi: OpenAPI,
    method: str,
    path: str,
    *,
    body: Any = None,
    data: bytes | None = None,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> Exchange:
    """Send one request and validate it and its answer against the contract."""
    raw = data if data is not None else (None if body is None else json.dumps(body).encode())
    options: dict[str, Any] = {"method": method, "headers": {**AUTH, **(headers or {})}}
    if raw is not None:
        options.update(data=raw, content_type=content_type)
    request = WerkzeugOpenAPIRequest(EnvironBuilder(path=path, **options).get_request())
    response = client.open(path, **options)
    return Exchange(
        response=response,
        request_errors=_describe(openapi.iter_request_errors(request)),
        response_errors=_describe(openapi.iter_response_errors(request, WerkzeugOpenAPIResponse(response))),
    )


def _describe(errors: Iterator[Exception]) -> list[str]:
    """openapi-core errors with the JSON Schema failures behind them (they hide in ``__cause__``)."""
    lines = []
    for error in errors:
        cause = error.__cause__
        details = [
            f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in getattr(cause, "schema_errors", ())
        ]
        lines.append(f"{type(error).__name__}: {error}" + (f" {details}" if details else ""))
    return lines


def assert_conforms(result: Exchange) -> None:
    """The answer is documented for the operation, and a refused request got a documented 4xx."""
    assert result.response_errors == [], result.body
    if result.request_errors:
        assert 400 <= result.status < 500, (
            f"the contract rejects this request ({result.request_errors}) but the app answered {result.status}"
        )


def assert_error(result: Exchange, status: int, code: str) -> None:
    assert (result.status, result.body) == (status, {"error": code, "message": result.body["message"]})
    assert result.body["message"].strip()


def _service_request(scenario: Scenario) -> dict[str, Any]:
    request = scenario.rolled_to(date.today()).request
    if "fhirServer" in request:
        request["fhirServer"] = UNREACHABLE_FHIR_SERVER
    return request


# ------------------------------------------------------------------------------------- CDS Hooks: scenarios


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"{s.path.parent.name}/{s.path.stem}")
def test_fixture_request_and_answer_follow_the_contract(
    client: FlaskClient, openapi: OpenAPI, scenario: Scenario
) -> None:
    request = _service_request(scenario)
    result = exchange(client, openapi, "POST", f"/cds-services/{scenario.service}", body=request)

    assert_conforms(result)
    if "fhirServer" in request:
        # The fixture's FHIR server is not running here: the data it holds is unobtainable.
        assert result.status == 412, result.body
    else:
        assert result.status == scenario.expect.status, result.body
    if scenario.expect.status == 200:
        assert result.request_errors == []
    if result.status == 200:
        assert response_problems(result.body) == []
    else:
        assert set(result.body) <= {"error", "message"}
        if scenario.expect.error and "fhirServer" not in request:
            assert result.body["error"] == scenario.expect.error


def test_fixtures_cover_every_service_and_the_documented_errors() -> None:
    assert {s.service for s in SCENARIOS if s.expect.status == 200} == {s.id for s in SERVICES}
    assert {s.expect.status for s in SCENARIOS} >= {200, 400, 404, 412}


def test_discovery_follows_the_contract(client: FlaskClient, openapi: OpenAPI) -> None:
    result = exchange(client, openapi, "GET", "/cds-services")
    assert (result.status, result.request_errors, result.response_errors) == (200, [], [])
    assert [s["id"] for s in result.body["services"]] == [s.id for s in SERVICES]


# ---------------------------------------------------------------------------------- CDS Hooks: bad requests


def _valid_call() -> dict[str, Any]:
    return _service_request(PATIENT_VIEW)


@dataclass(frozen=True)
class BadCall:
    name: str
    status: int
    code: str
    path: str = f"/cds-services/{PATIENT_VIEW.service}"
    body: Any = None
    data: bytes | None = None
    content_type: str | None = "application/json"
    #: Whether the contract itself already rejects the request (None: the contract cannot tell).
    contract_rejects: bool | None = True


def _without(key: str) -> dict[str, Any]:
    request = _valid_call()
    del request[key]
    return request


def _context_without(key: str) -> dict[str, Any]:
    request = _valid_call()
    del request["context"][key]
    return request


BAD_CALLS = [
    BadCall("malformed-json", 400, "bad-request", data=b'{"hook": "patient-view",'),
    BadCall("empty-body", 400, "bad-request", data=b""),
    BadCall("json-array", 400, "bad-request", body=[_valid_call()]),
    BadCall(
        "text-plain", 415, "unsupported-media-type", data=json.dumps(_valid_call()).encode(), content_type="text/plain"
    ),
    BadCall(
        "form-encoded",
        415,
        "unsupported-media-type",
        data=b"hook=patient-view",
        content_type="application/x-www-form-urlencoded",
    ),
    BadCall(
        "no-content-type", 415, "unsupported-media-type", data=json.dumps(_valid_call()).encode(), content_type=None
    ),
    BadCall("unknown-service", 404, "unknown-service", path="/cds-services/cgh-unknown", body=_valid_call()),
    BadCall(
        "wrong-hook", 400, "wrong-hook", path="/cds-services/cgh-order-sign", body=_valid_call(), contract_rejects=False
    ),
    BadCall("unknown-hook", 400, "wrong-hook", body={**_valid_call(), "hook": "appointment-book"}),
    BadCall("missing-hook", 400, "bad-request", body=_without("hook")),
    BadCall("missing-hook-instance", 400, "bad-request", body=_without("hookInstance")),
    BadCall("missing-context", 400, "bad-request", body=_without("context")),
    BadCall("missing-patient-id", 400, "bad-request", body=_context_without("patientId")),
    BadCall("missing-user-id", 400, "bad-request", body=_context_without("userId")),
    BadCall("context-not-object", 400, "bad-request", body={**_valid_call(), "context": "Patient/1"}),
    BadCall("hook-instance-number", 400, "bad-request", body={**_valid_call(), "hookInstance": 42}),
    BadCall("fhir-server-not-url", 400, "bad-request", body={**_valid_call(), "fhirServer": "ehr.example.org"}),
    BadCall(
        "authorization-without-server",
        400,
        "bad-request",
        body={**_valid_call(), "fhirAuthorization": {"access_token": "t", "token_type": "Bearer"}},
    ),
    BadCall(
        "order-sign-without-draft-orders",
        400,
        "bad-request",
        path="/cds-services/cgh-order-sign",
        body={**_valid_call(), "hook": "order-sign"},
        contract_rejects=None,
    ),
]


@pytest.mark.parametrize("call", BAD_CALLS, ids=lambda c: c.name)
def test_bad_call_gets_a_documented_error(client: FlaskClient, openapi: OpenAPI, call: BadCall) -> None:
    result = exchange(
        client, openapi, "POST", call.path, body=call.body, data=call.data, content_type=call.content_type
    )
    assert_error(result, call.status, call.code)
    assert result.response_errors == []
    if call.contract_rejects is not None:
        assert bool(result.request_errors) is call.contract_rejects, result.request_errors


def test_body_over_the_limit_gets_413(tmp_path_factory: pytest.TempPathFactory, openapi: OpenAPI) -> None:
    app = build_app(tmp_path_factory.mktemp("small"), max_body_mb=0.05)
    try:
        request = {**_valid_call(), "extension": {"org.example.padding": "x" * 60_000}}
        result = exchange(app.test_client(), openapi, "POST", f"/cds-services/{PATIENT_VIEW.service}", body=request)
    finally:
        app.extensions["cgh_runtime"].store.dispose()
    assert result.request_errors == []  # a well-formed request: only its size is refused
    assert_error(result, 413, "payload-too-large")
    assert result.response_errors == []


def test_get_on_a_service_url_gets_405(client: FlaskClient, contract: dict[str, Any]) -> None:
    response = client.get(f"/cds-services/{PATIENT_VIEW.service}", headers=AUTH)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    # GET is not an operation of the contract: check the body against the documented 405 answer.
    pointer = "/components/responses/MethodNotAllowed/content/application~1json/schema"
    assert schema_errors(contract, pointer, response.get_json()) == []


def test_unknown_path_gets_404_not_found(client: FlaskClient, contract: dict[str, Any]) -> None:
    response = client.get("/cds-services-typo", headers=AUTH)
    assert response.status_code == 404
    pointer = "/components/responses/UnknownService/content/application~1json/schema"
    assert schema_errors(contract, pointer, response.get_json()) == []
    assert response.get_json()["error"] == "not-found"


# --------------------------------------------------------------------------------------------- feedback


@pytest.fixture(scope="module")
def issued_card(client: FlaskClient) -> dict[str, Any]:
    """A card the app issued (with suggestions when any scenario yields them), for feedback on it."""
    cards = []
    for scenario in SCENARIOS:
        if scenario.expect.status == 200 and scenario.expect.cards and "fhirServer" not in scenario.request:
            response = client.post(f"/cds-services/{scenario.service}", json=_service_request(scenario), headers=AUTH)
            cards.extend(response.get_json()["cards"])
            if any("suggestions" in card and "overrideReasons" in card for card in cards):
                break
    assert cards, "no scenario produced a card"
    return next((c for c in cards if "suggestions" in c and "overrideReasons" in c), cards[0])


def _now() -> str:
    return date.today().isoformat() + "T10:05:31Z"


def test_feedback_accepted_and_overridden_is_stored(
    client: FlaskClient, openapi: OpenAPI, issued_card: dict[str, Any]
) -> None:
    items: list[dict[str, Any]] = []
    suggestion_ids = [s["uuid"] for s in issued_card.get("suggestions", []) if "uuid" in s]
    if suggestion_ids:
        items.append(
            {
                "card": issued_card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": suggestion_ids[0]}],
                "outcomeTimestamp": _now(),
            }
        )
    reason = next(iter(issued_card.get("overrideReasons", [])), {"code": "other"})
    items.append(
        {
            "card": issued_card["uuid"],
            "outcome": "overridden",
            # The Sandbox echoes the reason without display; the contract and the app accept that.
            "overrideReason": {"reason": {k: v for k, v in reason.items() if k != "display"}, "userComment": "n/a"},
            "outcomeTimestamp": _now(),
        }
    )
    result = exchange(
        client, openapi, "POST", f"/cds-services/{PATIENT_VIEW.service}/feedback", body={"feedback": items}
    )
    assert (result.status, result.request_errors, result.response_errors) == (200, [], [])
    assert result.body == {"stored": len(items)}


def test_feedback_with_date_only_timestamp_is_accepted(client: FlaskClient, openapi: OpenAPI) -> None:
    body = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2025-06-01"}]}
    result = exchange(client, openapi, "POST", "/cds-services/cgh-order-sign/feedback", body=body)
    assert (result.status, result.request_errors, result.response_errors) == (200, [], [])


def _feedback(**changes: Any) -> dict[str, Any]:
    item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": _now(), **changes}
    return {"feedback": [{k: v for k, v in item.items() if v is not None}]}


BAD_FEEDBACK = [
    BadCall("empty-list", 400, "bad-request", body={"feedback": []}),
    BadCall("not-a-list", 400, "bad-request", body={"feedback": {"card": "x"}}),
    BadCall("missing-feedback", 400, "bad-request", body={}),
    BadCall("unknown-outcome", 400, "bad-request", body=_feedback(outcome="ignored")),
    BadCall("missing-card", 400, "bad-request", body=_feedback(card=None)),
    BadCall("missing-timestamp", 400, "bad-request", body=_feedback(outcomeTimestamp=None)),
    BadCall("accepted-without-suggestions", 400, "bad-request", body=_feedback(outcome="accepted")),
    BadCall(
        "timestamp-not-a-date", 400, "bad-request", body=_feedback(outcomeTimestamp="yesterday"), contract_rejects=False
    ),
    BadCall("malformed-json", 400, "bad-request", data=b'{"feedback": ['),
    BadCall("text-plain", 415, "unsupported-media-type", data=b'{"feedback": []}', content_type="text/plain"),
    BadCall("unknown-service", 404, "unknown-service", path="/cds-services/cgh-unknown/feedback", body=_feedback()),
]


@pytest.mark.parametrize("call", BAD_FEEDBACK, ids=lambda c: c.name)
def test_bad_feedback_gets_a_documented_error(client: FlaskClient, openapi: OpenAPI, call: BadCall) -> None:
    path = call.path if call.path.endswith("/feedback") else f"{call.path}/feedback"
    result = exchange(client, openapi, "POST", path, body=call.body, data=call.data, content_type=call.content_type)
    assert_error(result, call.status, call.code)
    assert result.response_errors == []
    if call.contract_rejects is not None:
        assert bool(result.request_errors) is call.contract_rejects, result.request_errors


# ---------------------------------------------------------------------------- operations, docs, analytics


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.yaml",
        "/docs/",
        "/analytics/",
        "/analytics/recommendations",
        "/analytics/terminology.md",
        "/analytics/terminology.csv",
        "/analytics/trends",
        "/analytics/recommendations.csv",
        "/analytics/governance",
    ],
)
def test_open_endpoint_follows_the_contract(client: FlaskClient, openapi: OpenAPI, path: str) -> None:
    result = exchange(client, openapi, "GET", path)
    assert (result.status, result.request_errors, result.response_errors) == (200, [], [])


def test_every_route_of_the_app_is_documented(contract_app: Flask, contract: dict[str, Any]) -> None:
    routes: dict[str, set[str]] = {}
    for rule in contract_app.url_map.iter_rules():
        # Folders of static assets (Flask's, Swagger UI's, the analytics page's) are not API operations.
        if "<path:" not in rule.rule:
            path = rule.rule.replace("<", "{").replace(">", "}")
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods or () if m not in {"HEAD", "OPTIONS"})
    documented = {
        path: {m for m in item if m in {"get", "post", "put", "delete", "patch"}}
        for path, item in contract["paths"].items()
    }
    assert routes == documented
