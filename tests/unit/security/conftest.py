"""Fixtures for the security unit tests: session-wide keys and JWKS server, and a tiny Flask app wired with
``service.security.init_app`` and the real error handlers, standing in for the CDS blueprint."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask import Response
from flask import g
from flask import jsonify

from service.config import AuthMode
from service.config import Settings
from service.security import init_app
from service.store import Store
from service.web.errors import register_error_handlers
from tests.unit.security.signing import JwksServer
from tests.unit.security.signing import World
from tests.unit.security.signing import make_world

BASE = "https://cds.example.org/base"


@pytest.fixture(scope="session")
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def world(jwks_server: JwksServer) -> World:
    return make_world(BASE, jwks_server)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's proxy settings must not route loopback key fetches elsewhere (requests' own test rule)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def tiny_cds_app(settings: Settings, store: Store) -> Flask:
    """A Flask app with the CDS routes' shapes, our error handlers and the security layer."""
    app = Flask("security-under-test")
    app.config.update(TESTING=True, PROPAGATE_EXCEPTIONS=True)
    register_error_handlers(app)
    init_app(app, settings, store)

    @app.get("/cds-services")
    def discovery() -> Response:
        return jsonify({"services": [], "client": g.get("client_iss")})

    @app.post("/cds-services/<service_id>")
    def invoke(service_id: str) -> Response:
        return jsonify({"cards": [], "client": g.get("client_iss")})

    @app.post("/cds-services/<service_id>/feedback")
    def feedback(service_id: str) -> Response:
        return jsonify({"stored": 0, "client": g.get("client_iss")})

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/boom")
    def boom() -> Response:
        raise RuntimeError("/secret/internal/path.py exploded")

    return app


@pytest.fixture
def make_app(tmp_path: Path, world: World) -> Callable[..., Flask]:
    """Build a tiny app; keyword arguments override ``Settings`` fields; ``clients`` overrides the file."""

    def build(clients: Any = None, **overrides: Any) -> Flask:
        clients_path = tmp_path / "trusted-clients.json"
        clients_path.write_text(json.dumps(world.trusted_clients() if clients is None else clients))
        settings = Settings(
            public_base_url=BASE,
            database_url=f"sqlite:///{tmp_path / 'replay.sqlite3'}",
            trusted_clients_path=clients_path,
            instance_path=tmp_path,
            testing=True,
        ).with_overrides(**overrides)
        store = Store(settings.effective_database_url, audit_key="test-key")
        store.create_schema()
        return tiny_cds_app(settings, store)

    return build


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(cors_origins=("https://sandbox.cds-hooks.org",))


@pytest.fixture
def auth_off_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(auth=AuthMode.OFF)


@pytest.fixture
def security_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture the ``service.security`` logger (the service's loggers do not propagate once configured)."""
    logger = logging.getLogger("service.security")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="service.security")
    yield caplog
    logger.removeHandler(caplog.handler)
