"""CORS for browser clients (preflight without a JWT, Allow-Origin on every CDS answer including errors) and the
hardening headers on every response."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask import Response

from service.security import CorsPolicy
from service.security import SecurityHeaders
from service.security.headers import API_CSP
from tests.unit.security.signing import ISS
from tests.unit.security.signing import World
from tests.unit.security.signing import mint

SANDBOX = "https://sandbox.cds-hooks.org"
CDS_PATHS = ["/cds-services", "/cds-services/cgh-patient-view", "/cds-services/cgh-patient-view/feedback"]


@pytest.mark.parametrize("path", [*CDS_PATHS, "/cds-services/unknown/deep"])
def test_preflight_is_answered_without_a_jwt(app: Flask, path: str) -> None:
    response = app.test_client().options(
        path,
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, Accept"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/cds-services", "GET, OPTIONS"),
        ("/cds-services/cgh-patient-view", "POST, OPTIONS"),
        ("/cds-services/cgh-patient-view/feedback", "POST, OPTIONS"),
        ("/cds-services/unknown/deep", "OPTIONS"),
    ],
)
def test_preflight_allow_lists_what_the_path_accepts(app: Flask, path: str, allow: str) -> None:
    """Found by schemathesis (allow_header_conformance): ``Allow`` was "GET, POST, OPTIONS" on every path."""
    assert app.test_client().options(path).headers["Allow"] == allow


def test_preflight_from_an_unknown_origin_gets_no_allow_origin(app: Flask) -> None:
    response = app.test_client().options(
        "/cds-services", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


@pytest.mark.parametrize("path", CDS_PATHS)
def test_allow_origin_on_401(app: Flask, path: str) -> None:
    response = app.test_client().post(path, headers={"Origin": SANDBOX}, json={})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
    assert response.headers["Access-Control-Expose-Headers"] == "X-Request-ID"


def test_allow_origin_on_success_and_404(app: Flask, world: World) -> None:
    client = app.test_client()
    ok = client.get(
        "/cds-services",
        headers={
            "Origin": SANDBOX,
            "Authorization": f"Bearer {mint(world.ec, iss=ISS, aud=world.aud('/cds-services'))}",
        },
    )
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == SANDBOX
    path = "/cds-services/a/b/c"
    missing = client.get(
        path, headers={"Origin": SANDBOX, "Authorization": f"Bearer {mint(world.ec, iss=ISS, aud=world.aud(path))}"}
    )
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == SANDBOX


def test_412_and_other_errors_from_a_view_keep_cors(make_app: Callable[..., Flask], world: World) -> None:
    from service.errors import FhirDataUnavailableError

    app = make_app(cors_origins=("*",))

    @app.post("/cds-services/needs-data")
    def needs_data() -> Response:
        raise FhirDataUnavailableError("no data")

    token = mint(world.ec, iss=ISS, aud=world.aud("/cds-services/needs-data"))
    response = app.test_client().post(
        "/cds-services/needs-data", headers={"Origin": "http://localhost:3000", "Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 412
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_no_cors_headers_without_configured_origins(make_app: Callable[..., Flask]) -> None:
    response = make_app().test_client().get("/cds-services", headers={"Origin": SANDBOX})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_is_only_for_cds_endpoints(app: Flask) -> None:
    response = app.test_client().get("/healthz", headers={"Origin": SANDBOX})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_policy_origin_matching() -> None:
    policy = CorsPolicy(["https://Sandbox.cds-hooks.org/", "http://localhost:3000"])
    assert policy.allow_origin("https://sandbox.cds-hooks.org") == "https://sandbox.cds-hooks.org"
    assert policy.allow_origin("https://sandbox.cds-hooks.org.evil.example") is None
    assert policy.allow_origin("http://localhost:3001") is None
    assert policy.allow_origin(None) is None
    assert CorsPolicy(["*"]).allow_origin("https://anything.example") == "*"
    assert not CorsPolicy([]).enabled


@pytest.mark.parametrize("path", ["/cds-services", "/healthz", "/cds-services/x", "/boom", "/nowhere"])
def test_security_headers_on_every_response(make_app: Callable[..., Flask], path: str) -> None:
    app = make_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == API_CSP
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")  # base URL is https
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "/secret/internal" not in body and ".py" not in body


def test_no_hsts_on_plain_http_base_url(make_app: Callable[..., Flask]) -> None:
    response = make_app(public_base_url="http://127.0.0.1:8080").test_client().get("/healthz")
    assert "Strict-Transport-Security" not in response.headers


def test_docs_csp_allows_exactly_the_inline_scripts_served() -> None:
    app = Flask("docs")
    headers = SecurityHeaders("https://cds.example.org")
    page = "<html><script src='/docs/x.js'></script><script>\n var a = 1;\n</script></html>"

    @app.get("/docs/")
    def docs() -> Response:
        return Response(page, mimetype="text/html")

    @app.after_request
    def harden(response: Response) -> Response:
        from flask import request

        headers.apply(response, request.path)
        return response

    response = app.test_client().get("/docs/")
    csp = response.headers["Content-Security-Policy"]
    expected = base64.b64encode(hashlib.sha256(b"\n var a = 1;\n").digest()).decode()
    script_src = re.search(r"script-src ([^;]+);", csp)
    assert script_src is not None
    assert script_src.group(1) == f"'self' 'sha256-{expected}'"
    assert "'unsafe-inline'" not in script_src.group(1) and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "Cache-Control" not in response.headers  # static docs may be cached
