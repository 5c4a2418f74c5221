"""Schemathesis hooks (``SCHEMATHESIS_HOOKS=tests.fuzzing.st_hooks``): authenticate every generated request.

Registers one more check, run with ``-c all``: every card answered passes the protocol's strict card checks.

Operations whose contract names ``cdsClientJwt`` get a fresh CDS Hooks 2.0 client JWT (RS384, a new ``jti``,
``aud`` = the public base URL + the exact path called), signed with the key the service trusts; those naming
``adminToken`` (analytics data, the card gallery's data, the sandbox) get the admin token. Configured by
environment variables so that the schemathesis CLI can load this module as it is:
``CGH_FUZZ_KEY_PEM`` (PKCS#8 PEM file), ``CGH_FUZZ_ISS``, ``CGH_FUZZ_KID``, ``CGH_FUZZ_AUD_BASE`` and
``CGH_FUZZ_ADMIN_TOKEN``.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jwt
import schemathesis
from cryptography.hazmat.primitives import serialization
from hypothesis.internal import lambda_sources

from service.protocol import response_problems


def _tolerate_ast_recursion_bug() -> None:
    """Describe a lambda as unknown when CPython 3.11's ``ast.parse`` fails with "AST constructor recursion depth
    mismatch" (a CPython bug hit when hypothesis names a strategy's lambda deep in schemathesis' coverage
    phase): the description only decorates a message, and the bug otherwise aborts the whole operation."""
    describe = lambda_sources._lambda_description

    def tolerant(f: Any) -> str:
        try:
            return describe(f)
        except SystemError:
            return "lambda: <unknown>"

    lambda_sources._lambda_description = tolerant


_tolerate_ast_recursion_bug()

# Parsed once: PyJWT given PEM bytes parses them again for every token, and loading an RSA private key (OpenSSL
# checks the key) cost 250 ms on the loaded 2-core machine against 3.4 ms for the signature itself. That made
# every request of the long run wait a quarter of a second in the client, and the single-threaded stateful
# phase (about 4.5 requests per scenario) took more than a second per scenario.
_KEY = serialization.load_pem_private_key(Path(os.environ["CGH_FUZZ_KEY_PEM"]).read_bytes(), password=None)
_ISS = os.environ["CGH_FUZZ_ISS"]
_KID = os.environ["CGH_FUZZ_KID"]
_AUD_BASE = os.environ["CGH_FUZZ_AUD_BASE"].rstrip("/")
_ADMIN_TOKEN = os.environ["CGH_FUZZ_ADMIN_TOKEN"]


def client_jwt(path: str) -> str:
    """A token the service accepts once, for ``path``, valid for five minutes."""
    now = int(time.time())
    claims = {"iss": _ISS, "aud": _AUD_BASE + path, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, _KEY, algorithm="RS384", headers={"kid": _KID, "typ": "JWT"})


@schemathesis.auth(refresh_interval=None)
class CdsClientAuth:
    """Signs per request (``refresh_interval=None``): a token is single-use, its ``jti`` is then replayed."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return ""  # nothing shared between requests: :meth:`set` makes each request's credentials

    def set(self, case: schemathesis.Case, data: Any, ctx: schemathesis.AuthContext) -> None:
        # The credentials the contract names for the operation: every admin-token operation is exercised
        # (the card gallery's data and the sandbox were left to 401/404 before, so only their refusals ran).
        schemes = {name for requirement in case.operation.definition.raw.get("security", []) for name in requirement}
        if "cdsClientJwt" in schemes:
            token = client_jwt(unquote(case.formatted_path))
        elif "adminToken" in schemes:
            token = _ADMIN_TOKEN
        else:
            return
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@schemathesis.check
def cds_cards_pass_the_protocol_checks(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every 200 from a hook call passes the strict card checks of :func:`service.protocol.response_problems`
    (``-c all`` includes this check)."""
    path = case.operation.path
    if case.method.upper() != "POST" or not path.startswith("/cds-services/cgh-") or path.endswith("/feedback"):
        return None
    if response.status_code != 200:
        return None
    problems = response_problems(response.json())
    if problems:
        raise AssertionError("the cards break CDS Hooks 2.0: " + "; ".join(problems))
    return True
