"""The contract's security schemes against the app with ``CGH_AUTH=required``: a CDS client JWT on the CDS
endpoints, the admin token on analytics, and the bare ``{"error": "unauthorized"}`` answer otherwise.

One trusted client with an inline EC P-384 key (no network); tokens are signed here with ES384.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from jwt.algorithms import ECAlgorithm
from openapi_core import Config
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder

from service.config import AuthMode
from service.scenarios import iter_scenarios
from tests.contract.oas import FIXTURES_DIR
from tests.contract.oas import build_app

BASE_URL = "https://cds.example.org"
ISSUER = "https://ehr.example.org"
KID = "contract-test-key"
ADMIN_TOKEN = "contract-admin-token"
SCENARIO = next(
    s
    for s in iter_scenarios(FIXTURES_DIR)
    if s.service == "cgh-patient-view" and s.expect.status == 200 and s.expect.cards and "fhirServer" not in s.request
)


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory: pytest.TempPathFactory, signing_key: ec.EllipticCurvePrivateKey) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("auth")
    jwk = json.loads(ECAlgorithm.to_jwk(signing_key.public_key()))
    clients = folder / "trusted-clients.json"
    clients.write_text(json.dumps([{"iss": ISSUER, "jwks": {"keys": [{**jwk, "kid": KID, "use": "sig"}]}}]))
    app = build_app(
        folder,
        auth=AuthMode.REQUIRED,
        trusted_clients_path=Path(clients),
        public_base_url=BASE_URL,
        admin_token=ADMIN_TOKEN,
    )
    yield app
    app.extensions["cgh_runtime"].store.dispose()


@pytest.fixture(scope="module")
def client(auth_app: Flask) -> FlaskClient:
    return auth_app.test_client()


@pytest.fixture(scope="module")
def openapi(contract: dict[str, Any]) -> OpenAPI:
    text = {media: _text for media in ("text/markdown", "text/csv")}
    return OpenAPI.from_dict(contract, config=Config(extra_media_type_deserializers=text))


def _text(data: bytes) -> str:
    return data.decode("utf-8")


def client_jwt(key: ec.EllipticCurvePrivateKey, path: str) -> str:
    """A CDS Hooks 2.0 client JWT for ``path`` (``aud`` = public base URL + path), valid for five minutes."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": BASE_URL + path, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})


def call(
    client: FlaskClient, openapi: OpenAPI, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any, list[str], list[str]]:
    """Send a request; return status, JSON body, and the contract's request and response errors."""
    options: dict[str, Any] = {"method": method, "headers": {"Authorization": f"Bearer {token}"} if token else {}}
    if body is not None:
        options.update(data=json.dumps(body).encode(), content_type="application/json")
    request = WerkzeugOpenAPIRequest(EnvironBuilder(path=path, **options).get_request())
    response = client.open(path, **options)
    return (
        response.status_code,
        response.get_json(silent=True),
        [str(e) for e in openapi.iter_request_errors(request)],
        [f"{e}: {e.__cause__}" for e in openapi.iter_response_errors(request, WerkzeugOpenAPIResponse(response))],
    )


def _request() -> dict[str, Any]:
    return SCENARIO.rolled_to(date.today()).request


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/cds-services", None),
        ("POST", f"/cds-services/{SCENARIO.service}", "request"),
        (
            "POST",
            f"/cds-services/{SCENARIO.service}/feedback",
            {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2025-06-01"}]},
        ),
        ("GET", "/analytics/recommendations", None),
        ("GET", "/analytics/terminology.md", None),
        ("GET", "/analytics/terminology.csv", None),
    ],
    ids=["discovery", "service", "feedback", "analytics", "terminology-md", "terminology-csv"],
)
def test_missing_token_gets_a_bare_401(
    client: FlaskClient, openapi: OpenAPI, method: str, path: str, body: Any
) -> None:
    status, answer, request_errors, response_errors = call(
        client, openapi, method, path, _request() if body == "request" else body
    )
    assert (status, answer, response_errors) == (401, {"error": "unauthorized"}, [])
    assert any("Security" in error for error in request_errors)  # the contract requires the token too


@pytest.mark.parametrize("path", ["/cds-services", f"/cds-services/{SCENARIO.service}"])
def test_rejected_token_gets_a_bare_401(
    client: FlaskClient, openapi: OpenAPI, signing_key: ec.EllipticCurvePrivateKey, path: str
) -> None:
    other_key = ec.generate_private_key(ec.SECP384R1())
    method, body = ("GET", None) if path == "/cds-services" else ("POST", _request())
    for token in (client_jwt(other_key, path), client_jwt(signing_key, "/cds-services/another"), "not-a-jwt"):
        status, answer, request_errors, response_errors = call(client, openapi, method, path, body, token)
        assert (status, answer, request_errors, response_errors) == (401, {"error": "unauthorized"}, [], [])


def test_signed_client_gets_discovery_cards_and_stores_feedback(
    client: FlaskClient, openapi: OpenAPI, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    status, answer, request_errors, response_errors = call(
        client, openapi, "GET", "/cds-services", token=client_jwt(signing_key, "/cds-services")
    )
    assert (status, request_errors, response_errors) == (200, [], [])

    path = f"/cds-services/{SCENARIO.service}"
    status, answer, request_errors, response_errors = call(
        client, openapi, "POST", path, _request(), client_jwt(signing_key, path)
    )
    assert (status, request_errors, response_errors) == (200, [], [])
    card = answer["cards"][0]

    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2025-06-01"}]}
    status, answer, request_errors, response_errors = call(
        client, openapi, "POST", f"{path}/feedback", feedback, client_jwt(signing_key, f"{path}/feedback")
    )
    assert (status, answer, request_errors, response_errors) == (200, {"stored": 1}, [], [])


def test_admin_token_opens_analytics(client: FlaskClient, openapi: OpenAPI) -> None:
    status, _, request_errors, response_errors = call(
        client, openapi, "GET", "/analytics/recommendations", token=ADMIN_TOKEN
    )
    assert (status, request_errors, response_errors) == (200, [], [])
    status, answer, _, response_errors = call(client, openapi, "GET", "/analytics/recommendations", token="wrong")
    assert (status, answer, response_errors) == (401, {"error": "unauthorized"}, [])


@pytest.mark.parametrize(
    ("path", "content_type", "first_line"),
    [
        ("/analytics/terminology.md", "text/markdown; charset=utf-8", "# Terminology review"),
        ("/analytics/terminology.csv", "text/csv; charset=utf-8", "value_set,system,system_uri,code,"),
    ],
)
def test_admin_token_opens_the_terminology_report(
    client: FlaskClient, openapi: OpenAPI, path: str, content_type: str, first_line: str
) -> None:
    status, _, request_errors, response_errors = call(client, openapi, "GET", path, token=ADMIN_TOKEN)
    assert (status, request_errors, response_errors) == (200, [], [])
    response = client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.content_type == content_type
    assert response.get_data(as_text=True).startswith(first_line)
    status, answer, _, response_errors = call(client, openapi, "GET", path, token="wrong")
    assert (status, answer, response_errors) == (401, {"error": "unauthorized"}, [])


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/docs/", "/analytics/"])
def test_open_endpoints_need_no_token(client: FlaskClient, openapi: OpenAPI, path: str) -> None:
    status, _, request_errors, response_errors = call(client, openapi, "GET", path)
    assert (status, request_errors, response_errors) == (200, [], [])
