"""Verify the CDS client's JWT (CDS Hooks 2.0 §Trusting CDS Clients) and return who the caller is.

Every failure raises :class:`TokenRejectedError` (an ``UnauthorizedError``: the web layer answers 401 with no
detail) after logging one line with the issuer, ``kid``, ``jti`` and the reason, never the token itself.
The module is named ``tokens`` so that ``import jwt`` always means PyJWT.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Protocol

import jwt
from jwt.algorithms import Algorithm
from jwt.algorithms import ECAlgorithm
from jwt.algorithms import RSAAlgorithm
from jwt.exceptions import InvalidTokenError
from jwt.types import Options

from service.errors import UnauthorizedError
from service.security.clients import TrustedClient
from service.security.clients import TrustedClients
from service.security.keys import ALGORITHMS
from service.security.keys import RemoteKeySets
from service.security.keys import VerificationKey

__all__ = ["JtiRegistry", "TokenRejectedError", "TokenVerifier", "VerifiedClient"]

log = logging.getLogger("service.security")

#: Clock skew we forgive on exp / iat / nbf (Inferno's own verifier uses 60 s).
LEEWAY_S = 60
#: Longest accepted token lifetime (exp - iat). CDS Hooks best practice: "no more than an hour"; Epic's
#: example tokens live 15 minutes. Bounds how long a jti must be remembered.
MAX_LIFETIME_S = 3600
#: Column size of the replay cache (``service.store.models.SeenJwt.jti``).
MAX_JTI_CHARS = 256
MAX_TOKEN_CHARS = 16 * 1024
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: Header parameters that change how a token must be processed; we implement none of them (RFC 7515 §4.1.11).
_REFUSED_HEADERS = ("crit", "b64")
_PARSE_ONLY: Options = {
    "verify_signature": False,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


_VERIFIERS: dict[str, Algorithm] = {
    "ES384": ECAlgorithm(ECAlgorithm.SHA384),
    "RS384": RSAAlgorithm(RSAAlgorithm.SHA384),
}
assert set(_VERIFIERS) == ALGORITHMS


class JtiRegistry(Protocol):
    """The replay cache, shared by every worker (``service.store.Store`` implements it)."""

    def claim_jti(self, iss: str, jti: str, expires_at: datetime) -> bool: ...


@dataclass(frozen=True, slots=True)
class VerifiedClient:
    """The caller, once its token has passed every check."""

    iss: str
    kid: str
    jti: str
    tenant: str | None


class TokenRejectedError(UnauthorizedError):
    """The bearer token was missing or failed a check; ``reason`` is for the log, never for the response."""

    def __init__(self, reason: str, *, iss: str | None = None, kid: str | None = None, jti: str | None = None) -> None:
        super().__init__(f"JWT rejected: {reason}")
        self.reason = reason
        self.iss = iss
        self.kid = kid
        self.jti = jti


class TokenVerifier:
    """Checks a bearer JWT against the trusted clients, this endpoint's URL, the clock and the replay cache.

    :param public_base_url: ``CGH_PUBLIC_BASE_URL``; the expected ``aud`` is this plus the request path.
    :param replay: where used ``jti``\\ s are recorded (the database, so all workers share it).
    :param remote_keys: cache of fetched JWK Sets; one per process.
    :param clock: epoch seconds (tests pass a fixed clock).
    """

    def __init__(
        self,
        clients: TrustedClients,
        *,
        public_base_url: str,
        replay: JtiRegistry,
        remote_keys: RemoteKeySets | None = None,
        leeway_s: float = LEEWAY_S,
        max_lifetime_s: float = MAX_LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clients = clients
        self.base_url = public_base_url.rstrip("/")
        self.replay = replay
        self.remote_keys = remote_keys or RemoteKeySets()
        self.leeway_s = leeway_s
        self.max_lifetime_s = max_lifetime_s
        self.clock = clock

    def expected_audience(self, path: str) -> str:
        """This endpoint's URL as a client must put it in ``aud`` (trailing slash removed)."""
        return (self.base_url + path).rstrip("/")

    def verify(self, authorization: str | None, path: str) -> VerifiedClient:
        """Verify the ``Authorization`` header of a request to ``path``.

        Checks, in order: Bearer scheme; compact JWS; header ``alg`` in {ES384, RS384}, ``typ`` JWT, ``kid``;
        ``iss`` trusted; ``jku`` (if any) on that issuer's allowlist; ``kid`` found in the issuer's keys (one
        refresh of remote sets on an unknown kid); the key's algorithm equals ``alg``; signature; ``exp``,
        ``iat`` required, ``nbf`` honoured, lifetime bounded; ``aud``; ``tenant``; ``jti`` never seen before.

        :raises TokenRejectedError: on the first failed check.
        """
        token = _bearer_token(authorization)
        try:
            # One parse; nothing in it is trusted until the signature check below.
            parsed = jwt.decode_complete(token, options=_PARSE_ONLY)
        except InvalidTokenError:
            raise _reject("malformed token") from None
        header: dict[str, Any] = parsed["header"]
        unverified: dict[str, Any] = parsed["payload"]
        kid = header.get("kid")
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise _reject(f"alg {_short(alg)} not accepted", kid=kid)
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise _reject(f"typ {_short(typ)} is not JWT", kid=kid)
        if not isinstance(kid, str) or not kid:
            raise _reject("kid missing")
        refused = [name for name in _REFUSED_HEADERS if name in header]
        if refused:
            raise _reject(f"header parameters {refused} not supported", kid=kid)
        jku = header.get("jku")
        if jku is not None and not isinstance(jku, str):
            raise _reject("jku is not a string", kid=kid)

        iss = unverified.get("iss")
        client = self.clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise _reject("issuer not trusted", iss=iss, kid=kid, jti=unverified.get("jti"))
        iss = client.iss
        context: dict[str, Any] = {"iss": iss, "kid": kid, "jti": unverified.get("jti")}

        key = self._find_key(client, kid, jku, context)
        if key.alg != alg:
            raise _reject(f"alg {alg} not allowed for this key ({key.alg} only)", **context)
        signing_input = token[: token.rindex(".")].encode("ascii")
        # The algorithm implementation is chosen by the key, never by the token header.
        if not _VERIFIERS[key.alg].verify(signing_input, key.key, parsed["signature"]):
            raise _reject("bad signature", **context)

        jti, exp, tenant = self._check_claims(unverified, client, path, context)
        # Replay last: only a token that passed every other check may take a place in the shared cache.
        expires_at = datetime.fromtimestamp(exp + self.leeway_s, UTC)
        if not self.replay.claim_jti(iss, jti, expires_at):
            raise _reject("jti already used (replay)", **context)
        return VerifiedClient(iss=iss, kid=kid, jti=jti, tenant=tenant)

    def _find_key(self, client: TrustedClient, kid: str, jku: str | None, context: dict[str, Any]) -> VerificationKey:
        if jku is not None and jku not in client.jku_allowlist:
            # Never fetch an unlisted jku: anyone can host a key set, and the URL may point into our network.
            raise _reject(f"jku {_short(jku)} not on this issuer's allowlist", **context)
        key = client.keys.get(kid)
        if key is not None:
            return key
        for url in (jku, client.jwks_url):
            if url is not None:
                key = self.remote_keys.find(url, kid)
                if key is not None:
                    return key
        raise _reject("unknown kid", **context)

    def _check_claims(
        self, claims: dict[str, Any], client: TrustedClient, path: str, context: dict[str, Any]
    ) -> tuple[str, float, str | None]:
        jti = claims.get("jti")
        # NUL: the replay cache's column (PostgreSQL text) cannot hold it.
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS or "\x00" in jti:
            raise _reject("jti missing or not a string of 1-256 characters without NUL", **context)
        exp = _number(claims, "exp")
        iat = _number(claims, "iat")
        if exp is None:
            raise _reject("exp missing or not a number", **context)
        if iat is None:
            raise _reject("iat missing or not a number", **context)
        now = self.clock()
        if exp + self.leeway_s < now:
            raise _reject("expired", **context)
        if iat - self.leeway_s > now:
            raise _reject("iat in the future", **context)
        if "nbf" in claims:
            nbf = _number(claims, "nbf")
            if nbf is None:
                raise _reject("nbf not a number", **context)
            if nbf - self.leeway_s > now:
                raise _reject("not yet valid (nbf)", **context)
        if exp < iat or exp - iat > self.max_lifetime_s:
            lifetime = f"{exp - iat:.0f} s outside 0..{self.max_lifetime_s:.0f} s"
            raise _reject(f"lifetime exp-iat of {lifetime}", **context)

        audiences = _audiences(claims.get("aud"))
        if audiences is None:
            raise _reject("aud missing or not a string / list of strings", **context)
        expected = self.expected_audience(path)
        if expected not in audiences and not (client.audiences & audiences):
            raise _reject(f"aud does not name this endpoint ({expected})", **context)

        tenant = claims.get("tenant")
        if tenant is not None and not isinstance(tenant, str):
            raise _reject("tenant not a string", **context)
        if client.tenants and tenant not in client.tenants:
            raise _reject(f"tenant {_short(tenant)} not allowed for this issuer", **context)
        return jti, exp, tenant


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise _reject("no Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise _reject("Authorization scheme is not Bearer")
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_CHARS or not _COMPACT_JWS.fullmatch(token):
        raise _reject("bearer value is not a compact JWS")
    return token


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)  # an int beyond float's range (10**400) raises OverflowError
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _audiences(aud: Any) -> frozenset[str] | None:
    """``aud`` as a set of URLs without trailing slash; a string or a non-empty list of strings (RFC 7519)."""
    if isinstance(aud, str) and aud:
        return frozenset({aud.rstrip("/")})
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        return frozenset(a.rstrip("/") for a in aud)
    return None


def _short(value: Any, limit: int = 120) -> str:
    """A value from an untrusted token, made safe to log: repr'd and truncated."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _reject(reason: str, *, iss: Any = None, kid: Any = None, jti: Any = None) -> TokenRejectedError:
    """Log the refusal (issuer, kid, jti, reason; never the token) and build the error to raise."""
    fields = {
        "iss": iss if isinstance(iss, str) else None,
        "kid": kid if isinstance(kid, str) else None,
        "jti": jti if isinstance(jti, str) else None,
    }
    fields = {name: value[:200] if value is not None else None for name, value in fields.items()}
    log.warning("JWT rejected: %s", reason, extra={**fields, "reason": reason})
    return TokenRejectedError(reason, **fields)
