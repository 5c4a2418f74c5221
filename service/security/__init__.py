"""Security: verify the CDS client's JWT on every CDS endpoint, CORS, and response hardening headers.

``init_app(app, settings, store)`` wires it into Flask:

* before each request to ``/cds-services`` or anything under it: an ``OPTIONS`` (CORS preflight) is answered
  at once with no JWT; any other method must carry a valid client JWT when ``CGH_AUTH=required``, checked
  before routing, so an unauthenticated caller gets 401 for every path there (known or not) and learns
  nothing; on success ``flask.g.client_iss`` (and ``g.client_tenant``) name the caller.
* after every response: CORS headers on CDS responses (errors included) and the hardening headers.

Other paths (``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.yaml``, ``/docs/``, ``/analytics/``) are not
touched here; ``/analytics`` checks its admin token itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request

from service.config import AuthMode
from service.config import Settings
from service.errors import ConfigError
from service.security.clients import TrustedClient
from service.security.clients import TrustedClients
from service.security.clients import load_trusted_clients
from service.security.clients import parse_trusted_clients
from service.security.cors import CorsPolicy
from service.security.headers import SecurityHeaders
from service.security.keys import RemoteKeySets
from service.security.keys import VerificationKey
from service.security.tokens import JtiRegistry
from service.security.tokens import TokenRejectedError
from service.security.tokens import TokenVerifier
from service.security.tokens import VerifiedClient

__all__ = [
    "CDS_PREFIX",
    "CorsPolicy",
    "RemoteKeySets",
    "SecurityHeaders",
    "SecurityState",
    "TokenRejectedError",
    "TokenVerifier",
    "TrustedClient",
    "TrustedClients",
    "VerificationKey",
    "VerifiedClient",
    "init_app",
    "is_cds_path",
    "load_trusted_clients",
    "parse_trusted_clients",
]

CDS_PREFIX = "/cds-services"
EXTENSION = "cgh_security"
AUTH_OFF_BANNER = (
    "!!! CGH_AUTH=off: the CDS endpoints accept requests WITHOUT a client JWT. DEVELOPMENT ONLY: never expose "
    "this service to a network or to patient data in this mode; set CGH_AUTH=required and CGH_TRUSTED_CLIENTS. !!!"
)
log = logging.getLogger("service.security")


def is_cds_path(path: str) -> bool:
    """True for the discovery URL and everything under it (services, feedback, unknown ids)."""
    return path == CDS_PREFIX or path.startswith(CDS_PREFIX + "/")


@dataclass(frozen=True, slots=True)
class SecurityState:
    """What ``init_app`` built, kept in ``app.extensions["cgh_security"]`` for tests and tools."""

    clients: TrustedClients | None
    verifier: TokenVerifier | None
    cors: CorsPolicy
    headers: SecurityHeaders


def init_app(app: Flask, settings: Settings, store: JtiRegistry) -> SecurityState:
    """Register authentication (before each CDS request) and CORS/hardening headers (after each response).

    Sets ``flask.g.client_iss`` to the verified issuer on authenticated requests (None when ``CGH_AUTH=off``).

    :raises ConfigError: ``CGH_AUTH=required`` without ``CGH_TRUSTED_CLIENTS``, or the file is invalid (it is
        validated whenever it is given, even with auth off).
    """
    clients = load_trusted_clients(settings.trusted_clients_path) if settings.trusted_clients_path else None
    verifier: TokenVerifier | None = None
    if settings.auth is AuthMode.REQUIRED:
        if not clients:
            raise ConfigError(
                "CGH_AUTH=required needs CGH_TRUSTED_CLIENTS to name a file listing at least one CDS client "
                "(see docs/SECURITY.md, 'Registering an EHR'). For local development set CGH_AUTH=off."
            )
        verifier = TokenVerifier(clients, public_base_url=settings.public_base_url, replay=store)
        log.info("JWT verification on", extra={"trusted_issuers": sorted(clients)})
    else:
        log.warning(AUTH_OFF_BANNER)
    state = SecurityState(
        clients=clients,
        verifier=verifier,
        cors=CorsPolicy(settings.cors_origins),
        headers=SecurityHeaders(settings.public_base_url),
    )
    app.extensions[EXTENSION] = state

    @app.before_request
    def _authenticate() -> Response | None:
        if not is_cds_path(request.path):
            return None
        if request.method == "OPTIONS":
            methods = current_app.url_map.bind_to_environ(request.environ).allowed_methods()
            return state.cors.preflight(request.headers.get("Origin"), methods)
        if verifier is None:
            g.client_iss = None
            g.client_tenant = None
            return None
        client = verifier.verify(request.headers.get("Authorization"), request.path)
        g.client_iss = client.iss
        g.client_tenant = client.tenant
        return None

    @app.after_request
    def _harden(response: Response) -> Response:
        path = request.path
        if is_cds_path(path):
            state.cors.apply(response, request.headers.get("Origin"))
            if response.status_code == 401:
                # RFC 6750 §3: name the scheme, nothing more (no error, no description: the reason is logged).
                response.headers["WWW-Authenticate"] = "Bearer"
        state.headers.apply(response, path)
        return response

    return state
