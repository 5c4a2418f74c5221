"""The trusted CDS clients: load and validate ``CGH_TRUSTED_CLIENTS``, the one list of issuers we accept.

The file is a JSON list; each entry names one issuer (``iss``) and where its signing keys come from: inline
(``jwks``), a pinned URL (``jwks_url``) and/or the ``jku`` URLs the client may announce in its token header
(``jku_allowlist``). Everything is checked at start-up so a typo stops the service with a message naming the
entry and the field, instead of turning into a 401 at the first EHR call.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.errors import ConfigError
from service.security.keys import VerificationKey
from service.security.keys import parse_jwk

__all__ = ["TrustedClient", "TrustedClients", "load_trusted_clients", "parse_trusted_clients"]

#: Fields an entry may carry; anything else is a typo (``jwks_uri``, ``audience``) and stops start-up.
_FIELDS = frozenset({"iss", "description", "jwks", "jwks_url", "jku_allowlist", "tenants", "audiences"})
_LOOPBACK_NAMES = frozenset({"localhost"})
#: Column size of the replay cache (``service.store.models.SeenJwt.iss``).
MAX_ISS_CHARS = 512


@dataclass(frozen=True, slots=True)
class TrustedClient:
    """One CDS client (EHR) we accept tokens from.

    :ivar iss: the exact ``iss`` claim of its tokens.
    :ivar keys: inline public keys by ``kid`` (no network needed).
    :ivar jwks_url: a pinned JWK Set URL, fetched whatever the token header says.
    :ivar jku_allowlist: ``jku`` header values we may fetch for this issuer (exact match); any other ``jku``
        is refused without a request.
    :ivar tenants: if not empty, the token's ``tenant`` claim must be one of these.
    :ivar audiences: extra accepted ``aud`` values (trailing slash removed), for EHRs whose ``aud`` is
        whatever the site configured (Epic).
    """

    iss: str
    keys: Mapping[str, VerificationKey]
    jwks_url: str | None = None
    jku_allowlist: frozenset[str] = frozenset()
    tenants: frozenset[str] = frozenset()
    audiences: frozenset[str] = frozenset()
    description: str = ""

    @property
    def remote_urls(self) -> tuple[str, ...]:
        """Every URL keys may be fetched from for this issuer (for documentation and logs)."""
        return tuple(u for u in (self.jwks_url, *sorted(self.jku_allowlist)) if u)


class TrustedClients(Mapping[str, TrustedClient]):
    """The trusted clients by issuer; ``get(iss)`` is an exact string lookup."""

    def __init__(self, clients: Mapping[str, TrustedClient]) -> None:
        self._clients = dict(clients)

    def __getitem__(self, iss: str) -> TrustedClient:
        return self._clients[iss]

    def __iter__(self) -> Any:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)


def load_trusted_clients(path: Path) -> TrustedClients:
    """Read and validate the trusted-clients file.

    :raises ConfigError: the file is unreadable, not JSON, or an entry is invalid; the message names the file,
        the entry (by index and ``iss``) and the field, and says what is accepted.
    """
    where = f"CGH_TRUSTED_CLIENTS={str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read the file ({exc.__class__.__name__}: {exc}).") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).") from None
    return parse_trusted_clients(document, where=where)


def parse_trusted_clients(document: Any, *, where: str = "CGH_TRUSTED_CLIENTS") -> TrustedClients:
    """Validate an already-decoded trusted-clients document (a JSON list of client objects).

    :raises ConfigError: as :func:`load_trusted_clients`.
    """
    if not isinstance(document, list):
        raise ConfigError(
            f"{where}: the file must hold a JSON list of clients, e.g. "
            '[{"iss": "https://ehr.example.org", "jwks_url": "https://ehr.example.org/jwks.json"}].'
        )
    clients: dict[str, TrustedClient] = {}
    for index, entry in enumerate(document):
        client = _parse_client(entry, f"{where}: client #{index}")
        if client.iss in clients:
            raise ConfigError(f"{where}: client #{index}: iss {client.iss!r} is listed twice; merge the entries.")
        clients[client.iss] = client
    return TrustedClients(clients)


def _parse_client(entry: Any, where: str) -> TrustedClient:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a JSON object with at least 'iss' and a key source.")
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss.strip() or iss != iss.strip() or len(iss) > MAX_ISS_CHARS:
        raise ConfigError(
            f"{where}: 'iss' is required: the exact issuer string of the client's tokens "
            f"(no surrounding spaces, at most {MAX_ISS_CHARS} characters)."
        )
    where = f"{where} (iss {iss!r})"
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; accepted fields are {sorted(_FIELDS)}.")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: 'description' must be a string.")

    keys = _parse_jwks(entry["jwks"], f"{where}: 'jwks'") if "jwks" in entry else {}
    jwks_url = _url(entry["jwks_url"], f"{where}: 'jwks_url'") if "jwks_url" in entry else None
    jku_allowlist = frozenset(_url(url, f"{where}: 'jku_allowlist'") for url in _strings(entry, "jku_allowlist", where))
    if not keys and jwks_url is None and not jku_allowlist:
        raise ConfigError(f"{where}: no key source; give 'jwks' (inline public keys), 'jwks_url' or 'jku_allowlist'.")
    audiences = frozenset(_audience(a, f"{where}: 'audiences'") for a in _strings(entry, "audiences", where))
    return TrustedClient(
        iss=iss,
        keys=keys,
        jwks_url=jwks_url,
        jku_allowlist=jku_allowlist,
        tenants=frozenset(_strings(entry, "tenants", where)),
        audiences=audiences,
        description=description,
    )


def _strings(entry: Mapping[str, Any], name: str, where: str) -> list[str]:
    value = entry.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: '{name}' must be a list of non-empty strings.")
    return list(value)


def _parse_jwks(value: Any, where: str) -> dict[str, VerificationKey]:
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list) or not value["keys"]:
        raise ConfigError(f'{where}: must be a JWK Set: {{"keys": [<public JWK>, ...]}} with at least one key.')
    keys: dict[str, VerificationKey] = {}
    for index, jwk in enumerate(value["keys"]):
        try:
            key = parse_jwk(jwk)
        except ValueError as exc:
            raise ConfigError(f"{where}: key #{index}: {exc}") from None
        if key.kid in keys:
            raise ConfigError(f"{where}: key #{index}: kid {key.kid!r} appears twice; a kid must be unique.")
        keys[key.kid] = key
    return keys


def _url(value: Any, where: str) -> str:
    """A key URL: https (http only for loopback hosts), no credentials, no fragment. Kept verbatim."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: must be a URL string.")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a valid URL.") from None
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise ConfigError(f"{where}: {value!r} must be an absolute URL with a host, no user:password, no #fragment.")
    if parts.scheme == "https":
        return value
    if parts.scheme == "http" and is_loopback_host(host):
        return value
    raise ConfigError(
        f"{where}: {value!r} must use https (plain http is accepted only for loopback hosts, e.g. 127.0.0.1)."
    )


def _audience(value: str, where: str) -> str:
    if value != value.strip():
        raise ConfigError(f"{where}: {value!r} has leading or trailing spaces.")
    return value.rstrip("/")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
