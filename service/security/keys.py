"""Client signing keys: parse public JWKs, and fetch and cache remote JWK Sets with bounded cost.

A key's algorithm is fixed by its type, never by the token: EC P-384 verifies ES384 only, RSA (2048 bits or
more) verifies RS384 only. Remote sets are fetched only from URLs the trusted-clients file lists, with no
redirects, a size cap, a connect/read timeout and an overall deadline, at most once per
``min_refresh_interval`` per URL however many unknown ``kid``\\ s arrive, and cached (parsed) in memory.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ec import SECP384R1
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import ECAlgorithm
from jwt.algorithms import RSAAlgorithm
from jwt.exceptions import InvalidKeyError

__all__ = [
    "ALGORITHMS",
    "KeyFetchError",
    "RemoteKeySets",
    "VerificationKey",
    "fetch_jwks",
    "parse_jwk",
    "parse_jwk_set",
]

log = logging.getLogger("service.security")

#: The only signature algorithms we accept (CDS Hooks 2.0 §JWT: ES384 and RS384 RECOMMENDED; never
#: ``none``, never a symmetric algorithm).
ALGORITHMS = frozenset({"ES384", "RS384"})
MIN_RSA_BITS = 2048
MAX_KEYS_PER_SET = 64
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

PublicKey = EllipticCurvePublicKey | RSAPublicKey


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A parsed public key and the one algorithm it may verify."""

    kid: str
    alg: str
    key: PublicKey = field(repr=False)


class KeyFetchError(Exception):
    """A remote JWK Set could not be fetched or parsed (network, status, size, deadline or content)."""


def parse_jwk(jwk: Any) -> VerificationKey:
    """Parse one public JWK into a :class:`VerificationKey`.

    :raises ValueError: with a message saying what is wrong and what is accepted.
    """
    if not isinstance(jwk, dict):
        raise ValueError("a JWK must be a JSON object.")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("'kid' is required (CDS Hooks 2.0: the token header names its key by kid).")
    private = sorted(_PRIVATE_MEMBERS & set(jwk))
    if private:
        raise ValueError(
            f"kid {kid!r} holds private key material {private}; give only the public key (never share a private key)."
        )
    if jwk.get("use", "sig") != "sig":
        raise ValueError(f"kid {kid!r}: 'use' is {jwk.get('use')!r}; a signing key has use 'sig'.")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise ValueError(f"kid {kid!r}: 'key_ops' must include 'verify'.")
    kty = jwk.get("kty")
    public: PublicKey
    try:
        if kty == "EC":
            if jwk.get("crv") != "P-384":
                crv = jwk.get("crv")
                raise ValueError(f"kid {kid!r}: EC keys must use curve P-384 (ES384), not {crv!r}.")
            ec_key = ECAlgorithm.from_jwk(jwk)
            if not isinstance(ec_key, EllipticCurvePublicKey) or not isinstance(ec_key.curve, SECP384R1):
                raise ValueError(f"kid {kid!r}: not an EC P-384 public key.")
            alg, public = "ES384", ec_key
        elif kty == "RSA":
            rsa_key = RSAAlgorithm.from_jwk(jwk)
            if not isinstance(rsa_key, RSAPublicKey):
                raise ValueError(f"kid {kid!r}: not an RSA public key.")
            if rsa_key.key_size < MIN_RSA_BITS:
                raise ValueError(f"kid {kid!r}: RSA key of {rsa_key.key_size} bits; at least {MIN_RSA_BITS}.")
            alg, public = "RS384", rsa_key
        else:
            raise ValueError(f"kid {kid!r}: 'kty' {kty!r} is not accepted; use EC (P-384) or RSA.")
    except (InvalidKeyError, KeyError, TypeError) as exc:
        raise ValueError(f"kid {kid!r}: not a valid {kty} public JWK ({exc.__class__.__name__}).") from None
    declared = jwk.get("alg")
    if declared is not None and declared != alg:
        raise ValueError(
            f"kid {kid!r}: 'alg' is {declared!r}, but a {kty} key verifies {alg} only "
            f"(accepted algorithms: {sorted(ALGORITHMS)})."
        )
    return VerificationKey(kid=kid, alg=alg, key=public)


def parse_jwk_set(document: Any, *, source: str) -> dict[str, VerificationKey]:
    """The usable keys of a remote JWK Set, by kid.

    Keys we cannot use (other curves, encryption keys, other algorithms) are skipped, as a JWK Set may serve
    other relying parties too; a set with no usable key is an error.

    :raises KeyFetchError: the document is not a JWK Set or has no usable key.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyFetchError(f"{source}: not a JWK Set (a JSON object with a 'keys' list)")
    keys: dict[str, VerificationKey] = {}
    for jwk in document["keys"][:MAX_KEYS_PER_SET]:
        try:
            key = parse_jwk(jwk)
        except ValueError as exc:
            log.debug("jwks key skipped", extra={"jwks_url": source, "reason": str(exc)})
            continue
        keys.setdefault(key.kid, key)
    if not keys:
        raise KeyFetchError(f"{source}: no usable EC P-384 or RSA signing key")
    return keys


def fetch_jwks(
    url: str, *, connect_timeout_s: float, read_timeout_s: float, deadline_s: float, max_bytes: int
) -> bytes:
    """GET ``url`` and return the body: no redirects, bounded in time and size.

    :raises KeyFetchError: any failure, with a short reason (never a stack trace).
    """
    started = time.monotonic()
    try:
        with requests.get(
            url,
            timeout=(connect_timeout_s, read_timeout_s),
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/jwk-set+json, application/json"},
        ) as response:
            if response.status_code != 200:
                raise KeyFetchError(f"HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise KeyFetchError(f"body of {declared} bytes is over {max_bytes}")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=16384):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise KeyFetchError(f"body is over {max_bytes} bytes")
                if time.monotonic() - started > deadline_s:
                    raise KeyFetchError(f"took more than {deadline_s} s")
            return bytes(body)
    except requests.RequestException as exc:
        raise KeyFetchError(exc.__class__.__name__) from None


@dataclass(frozen=True, slots=True)
class _CachedSet:
    keys: Mapping[str, VerificationKey]
    fetched_at: float | None  # monotonic time of the last successful fetch
    attempted_at: float  # monotonic time of the last attempt, successful or not


class RemoteKeySets:
    """Per-process cache of remote JWK Sets, by exact URL. Thread-safe.

    :param fetch: ``url -> body``; defaults to :func:`fetch_jwks` with the timeouts below.
    :param min_refresh_interval_s: at most one fetch per URL in this interval (unknown-kid floods cost
        nothing).
    :param max_age_s: a cached set older than this is refreshed on next use; if that fails the old keys stay.
    """

    def __init__(
        self,
        *,
        fetch: Callable[[str], bytes] | None = None,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 3.0,
        deadline_s: float = 5.0,
        max_bytes: int = 256 * 1024,
        min_refresh_interval_s: float = 10.0,
        max_age_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch or (
            lambda url: fetch_jwks(
                url,
                connect_timeout_s=connect_timeout_s,
                read_timeout_s=read_timeout_s,
                deadline_s=deadline_s,
                max_bytes=max_bytes,
            )
        )
        self._min_interval = min_refresh_interval_s
        self._max_age = max_age_s
        self._clock = clock
        self._sets: dict[str, _CachedSet] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.fetch_count: dict[str, int] = {}

    def find(self, url: str, kid: str) -> VerificationKey | None:
        """The key ``kid`` from the set at ``url``, or None.

        Fetches the set if not cached or stale, and refreshes it once (subject to the rate limit) when ``kid``
        is unknown, which is how a client's key rotation reaches us.
        """
        cached = self._sets.get(url)
        if cached is None or self._is_stale(cached):
            cached = self._refresh(url)
        key = cached.keys.get(kid)
        if key is None:
            key = self._refresh(url).keys.get(kid)
        return key

    def _is_stale(self, cached: _CachedSet) -> bool:
        return cached.fetched_at is None or self._clock() - cached.fetched_at > self._max_age

    def _refresh(self, url: str) -> _CachedSet:
        with self._locks_guard:
            lock = self._locks.setdefault(url, threading.Lock())
        with lock:
            cached = self._sets.get(url)
            now = self._clock()
            if cached is not None and now - cached.attempted_at < self._min_interval:
                # Fetched (or tried) moments ago, maybe by another thread while we waited: use that.
                return cached
            self.fetch_count[url] = self.fetch_count.get(url, 0) + 1
            try:
                body = self._fetch(url)
                try:
                    document = json.loads(body)
                except (ValueError, UnicodeDecodeError):
                    raise KeyFetchError("not JSON") from None
                keys = parse_jwk_set(document, source=url)
            except KeyFetchError as exc:
                log.warning("jwks fetch failed", extra={"jwks_url": url, "reason": str(exc)})
                # Keep the keys we had: an EHR's key endpoint being down must not lock out valid tokens.
                old = cached.keys if cached is not None else {}
                fetched_at = cached.fetched_at if cached is not None else None
                cached = _CachedSet(keys=old, fetched_at=fetched_at, attempted_at=now)
            else:
                log.info("jwks fetched", extra={"jwks_url": url, "kids": sorted(keys)})
                cached = _CachedSet(keys=keys, fetched_at=now, attempted_at=now)
            self._sets[url] = cached
            return cached
