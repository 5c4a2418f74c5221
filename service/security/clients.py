"""The trusted CDS clients: load and validate ``CGH_TRUSTED_CLIENTS``, the one list of issuers we accept.

The file is a JSON list; each entry names one issuer (``iss``) and where its signing keys come from: inline
(``jwks``), a pinned URL (``jwks_url``) and/or the ``jku`` URLs the client may announce in its token header
(``jku_allowlist``). Everything is checked at start-up so a typo stops the service with a message naming the
entry and the field, instead of turning into a 401 at the first EHR call.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validates_schema

from service.errors import ConfigError
from service.security.keys import VerificationKey
from service.security.keys import parse_jwk
from service.validation import flatten_messages

__all__ = ["TrustedClient", "TrustedClients", "load_trusted_clients", "parse_trusted_clients"]

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
    iss = entry.get("iss") if isinstance(entry, dict) else None
    try:
        loaded = _ClientSchema().load(entry)
    except ValidationError as exc:
        if isinstance(exc.messages, Mapping) and isinstance(iss, str) and "iss" not in exc.messages:
            where = f"{where} (iss {iss!r})"
        problems = "; ".join(
            message if name == "(file)" else f"'{name}' {message}" for name, message in flatten_messages(exc.messages)
        )
        raise ConfigError(f"{where}: {problems}") from None
    return TrustedClient(**loaded)


class _Iss(fields.Field[str]):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        if not isinstance(value, str) or not value.strip() or value != value.strip() or len(value) > MAX_ISS_CHARS:
            raise self.make_error("required")
        return value


class _StringList(fields.Field[frozenset[str]]):
    """A list of non-empty strings, each passed through ``item`` (which raises ``ValueError`` with the reason)."""

    def __init__(self, item: Callable[[str], str] = str, **kwargs: Any) -> None:
        super().__init__(load_default=frozenset, **kwargs)
        self._item = item

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValidationError("must be a list of non-empty strings.")
        try:
            return frozenset(self._item(v) for v in value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class _KeyUrl(fields.Field[str]):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        try:
            return _url(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class _Jwks(fields.Field[dict[str, VerificationKey]]):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, VerificationKey]:
        if not isinstance(value, dict) or not isinstance(value.get("keys"), list) or not value["keys"]:
            raise ValidationError('must be a JWK Set: {"keys": [<public JWK>, ...]} with at least one key.')
        keys: dict[str, VerificationKey] = {}
        for index, jwk in enumerate(value["keys"]):
            try:
                key = parse_jwk(jwk)
            except ValueError as exc:
                raise ValidationError(f"key #{index}: {exc}") from None
            if key.kid in keys:
                raise ValidationError(f"key #{index}: kid {key.kid!r} appears twice; a kid must be unique.")
            keys[key.kid] = key
        return keys


class _ClientSchema(Schema):
    """One entry of the file; a field not listed here is a typo (``jwks_uri``, ``audience``) and stops start-up."""

    error_messages = {  # noqa: RUF012 - marshmallow's class-level hook
        "unknown": "is not a known field; accepted fields are "
        "['audiences', 'description', 'iss', 'jku_allowlist', 'jwks', 'jwks_url', 'tenants'].",
        "type": "must be a JSON object with at least 'iss' and a key source.",
    }

    iss = _Iss(
        required=True,
        error_messages={
            "required": "is required: the exact issuer string of the client's tokens "
            f"(no surrounding spaces, at most {MAX_ISS_CHARS} characters).",
        },
    )
    description = fields.String(load_default="", error_messages={"invalid": "must be a string."})
    keys = _Jwks(data_key="jwks", load_default=dict)
    jwks_url = _KeyUrl(load_default=None)
    jku_allowlist = _StringList(item=lambda url: _url(url))
    tenants = _StringList()
    audiences = _StringList(item=lambda audience: _audience(audience))

    class Meta:
        unknown = RAISE

    @validates_schema
    def _has_a_key_source(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if not data.get("keys") and data.get("jwks_url") is None and not data.get("jku_allowlist"):
            raise ValidationError("no key source; give 'jwks' (inline public keys), 'jwks_url' or 'jku_allowlist'.")


def _url(value: Any) -> str:
    """A key URL: https (http only for loopback hosts), no credentials, no fragment. Kept verbatim.

    :raises ValueError: the reason, for the caller to prefix with the entry and field.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("must be a URL string.")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"{value!r} is not a valid URL.") from None
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise ValueError(f"{value!r} must be an absolute URL with a host, no user:password, no #fragment.")
    if parts.scheme == "https":
        return value
    if parts.scheme == "http" and is_loopback_host(host):
        return value
    raise ValueError(f"{value!r} must use https (plain http is accepted only for loopback hosts, e.g. 127.0.0.1).")


def _audience(value: str) -> str:
    if value != value.strip():
        raise ValueError(f"{value!r} has leading or trailing spaces.")
    return value.rstrip("/")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
