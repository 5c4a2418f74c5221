"""Settings: one frozen object read from ``CGH_*`` environment variables and validated at start-up."""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

from service.errors import ConfigError
from service.pathway.thresholds import PathwayThresholds

T = TypeVar("T")

#: The source checkout's root (tests and bench). Service code finds its content through ``service.content``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_instance_path() -> Path:
    """Where state goes when ``CGH_INSTANCE_PATH`` is unset.

    A checkout keeps it in its own (git-ignored) ``instance/``; an installed package must not write into
    site-packages, so it uses ``instance/`` in the folder it is started from. Deployments set the variable.
    """
    from service.content import is_built_package

    return Path.cwd() / "instance" if is_built_package() else PROJECT_ROOT / "instance"


class AuthMode(StrEnum):
    """Whether CDS endpoints require a verified client JWT."""

    REQUIRED = "required"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service reads from its environment. Build with :meth:`from_env` or directly in tests."""

    public_base_url: str = "http://127.0.0.1:8080"
    database_url: str = ""
    auth: AuthMode = AuthMode.REQUIRED
    trusted_clients_path: Path | None = None
    cors_origins: tuple[str, ...] = ()
    fhir_timeout_s: float = 3.0
    max_body_mb: float = 5.0
    audit_key: str = ""
    admin_token: str = ""
    store_comments: bool = False
    #: ``POST /sandbox/evaluate/{service_id}`` (a FHIR Bundle in, cards out) is served only when on.
    sandbox: bool = False
    #: ``CGH_GOVERNANCE_FILE``: modes per recommendation and client (service/governance/modes.py); None: all active.
    governance_path: Path | None = None
    instance_path: Path = field(default_factory=default_instance_path)
    #: Where each worker journals its audit records before answering (default: ``audit-spool`` in the instance
    #: folder). Local disk, kept across restarts of the server: a restarted server replays what it finds there.
    audit_spool_dir: Path | None = None
    thresholds: PathwayThresholds = field(default_factory=PathwayThresholds)
    testing: bool = False
    #: The evaluation date when pinned (``cgh-cds evaluate --today D``, revision-2 C20); ``None``: the real date.
    #: Never read from the environment: a served instance always evaluates as of the real date.
    today: date | None = None

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file in the instance folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.instance_path / 'cgh-cds.sqlite3'}"

    @property
    def effective_audit_spool_dir(self) -> Path:
        return self.audit_spool_dir or self.instance_path / "audit-spool"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every ``CGH_*`` variable.

        :raises ConfigError: naming the variable and what it accepts.
        """
        env = os.environ if environ is None else environ
        if (env.get(_REMOVED_ALT_SESSIONS) or "").strip():
            raise ConfigError(
                f"{_REMOVED_ALT_SESSIONS} was removed (clinical revision 2, C1): an adequate PT trial is always "
                "CGH_PT_MIN_SESSIONS session-dates over CGH_PT_MIN_WEEKS weeks of treatment. Unset it."
            )
        thresholds = PathwayThresholds(
            pt_min_weeks=_read(env, "CGH_PT_MIN_WEEKS", _positive_int, 8),
            pt_min_sessions=_read(env, "CGH_PT_MIN_SESSIONS", _positive_int, 6),
            pt_lookback_months=_read(env, "CGH_PT_LOOKBACK_MONTHS", _positive_int, 12),
            new_onset_months=_read(env, "CGH_NEW_ONSET_MONTHS", _positive_int, 12),
            new_onset_age=_read(env, "CGH_NEW_ONSET_AGE", _positive_int, 50),
            trauma_window_weeks=_read(env, "CGH_TRAUMA_WINDOW_WEEKS", _positive_int, 6),
            responder_reduction=_read(env, "CGH_RESPONDER_REDUCTION", _fraction, 0.5),
        )
        instance = Path(env.get("CGH_INSTANCE_PATH") or default_instance_path())
        settings = cls(
            public_base_url=_read(env, "CGH_PUBLIC_BASE_URL", _base_url, "http://127.0.0.1:8080"),
            database_url=_read(env, "CGH_DATABASE_URL", _database_url, ""),
            auth=_read(env, "CGH_AUTH", _auth_mode, AuthMode.REQUIRED),
            trusted_clients_path=_read(env, "CGH_TRUSTED_CLIENTS", _existing_file, None),
            cors_origins=_read(env, "CGH_CORS_ORIGINS", _origins, ()),
            fhir_timeout_s=_read(env, "CGH_FHIR_TIMEOUT_S", _timeout, 3.0),
            max_body_mb=_read(env, "CGH_MAX_BODY_MB", _body_mb, 5.0),
            audit_key=env.get("CGH_AUDIT_KEY", ""),
            admin_token=env.get("CGH_ADMIN_TOKEN", ""),
            store_comments=_read(env, "CGH_STORE_COMMENTS", _boolean, False),
            sandbox=_read(env, "CGH_SANDBOX", _boolean, False),
            governance_path=_read(env, "CGH_GOVERNANCE_FILE", _governance_file, None),
            instance_path=instance,
            audit_spool_dir=Path(env["CGH_AUDIT_SPOOL_DIR"]) if env.get("CGH_AUDIT_SPOOL_DIR") else None,
            thresholds=thresholds,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field checks that hold however the settings were built."""
        if self.auth is AuthMode.REQUIRED and self.trusted_clients_path is None:
            raise ConfigError(
                "CGH_AUTH=required needs CGH_TRUSTED_CLIENTS: the path of a JSON file listing the CDS clients "
                "you trust (see README, 'Registering an EHR'). For local development set CGH_AUTH=off."
            )


#: The "or 12 sessions" alternative of the PT trial, dropped by revision-2 C1: refused, never silently ignored.
_REMOVED_ALT_SESSIONS = "CGH_PT_ALT_SESSIONS"


def _read(env: Mapping[str, str], name: str, coerce: Callable[[str, str], T], default: T) -> T:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return coerce(name, raw.strip())


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; give a whole number such as 8.") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero.")
    return value


def _number_between(low: float, high: float, what: str, example: str) -> Callable[[str, str], float]:
    """A coercer for a number within ``[low, high]`` (``what`` names the unit in the error message)."""

    def coerce(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number of {what}, e.g. {example}.") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}={raw!r} must be between {low:g} and {high:g} ({what}).")
        return value

    return coerce


_fraction = _number_between(0.05, 0.95, "fraction", "0.5")
_timeout = _number_between(0.1, 30, "seconds", "3 or 2.5")
_body_mb = _number_between(0.01, 100, "megabytes", "5")


def _boolean(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false.")


def _auth_mode(name: str, raw: str) -> AuthMode:
    try:
        return AuthMode(raw.lower())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not accepted; use 'required' (default) or 'off'.") from None


def _base_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"{name}={raw!r} is not an absolute http(s) URL without query; "
            "give the URL EHRs call, e.g. https://cds.example.org"
        )
    return raw.rstrip("/")


def _database_url(name: str, raw: str) -> str:
    if not raw.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
        raise ConfigError(
            f"{name} must be a SQLAlchemy URL for SQLite or PostgreSQL, e.g. "
            "postgresql+psycopg://user:pass@host/db or sqlite:////path/file.sqlite3"
        )
    if raw.startswith("postgres:") or raw.startswith("postgresql:"):
        # psycopg 3 is the driver we ship; SQLAlchemy would otherwise look for psycopg2.
        raw = "postgresql+psycopg:" + raw.split(":", 1)[1]
    return raw


def _existing_file(name: str, raw: str) -> Path:
    path = Path(raw)
    if not path.is_file():
        raise ConfigError(f"{name}={raw!r}: no such file. Give the path of the trusted-clients JSON file.")
    return path


def _governance_file(name: str, raw: str) -> Path:
    path = Path(raw)
    if not path.is_file():
        raise ConfigError(
            f"{name}={raw!r}: no such file. Give the path of the governance YAML or JSON file "
            "(modes per recommendation; see README, 'Governance')."
        )
    return path


def _origins(name: str, raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin == "*":
            continue
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise ConfigError(
                f"{name}: {origin!r} is not an origin; give a comma-separated list such as "
                "https://sandbox.cds-hooks.org,http://localhost:3000 (or * for any origin)."
            )
    return origins


@dataclass(frozen=True, slots=True)
class ProcessSettings:
    """How ``cgh-cds serve`` recycles and stops its worker processes (gunicorn), from options or ``CGH_*``.

    :param max_requests: recycle a worker after this many requests (0: never); guards against slow leaks.
    :param max_requests_jitter: add up to this many requests at random per worker, so workers do not all
        restart at once (default: a tenth of ``max_requests``).
    :param graceful_timeout: seconds a stopping worker has to finish its in-flight requests.
    :param drain_s: on SIGTERM to the master, seconds during which ``/readyz`` answers 503 while requests are
        still served, before the graceful stop (0: stop at once). Give the load balancer's probe time to see it.
    """

    max_requests: int = 0
    max_requests_jitter: int | None = None
    graceful_timeout: int = 10
    drain_s: float = 5.0

    @property
    def jitter(self) -> int:
        if self.max_requests_jitter is not None:
            return self.max_requests_jitter
        return self.max_requests // 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProcessSettings:
        """``CGH_MAX_REQUESTS``, ``CGH_MAX_REQUESTS_JITTER``, ``CGH_GRACEFUL_TIMEOUT_S``, ``CGH_DRAIN_S``.

        :raises ConfigError: naming the variable and what it accepts.
        """
        env = os.environ if environ is None else environ
        return cls(
            max_requests=_read(env, "CGH_MAX_REQUESTS", _count, 0),
            max_requests_jitter=_read(env, "CGH_MAX_REQUESTS_JITTER", _count, None),
            graceful_timeout=_read(env, "CGH_GRACEFUL_TIMEOUT_S", _positive_int, 10),
            drain_s=_read(env, "CGH_DRAIN_S", _drain_seconds, 5.0),
        )


def _count(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; give a whole number (0 turns it off).") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative (0 turns it off).")
    return value


_drain_seconds = _number_between(0, 120, "seconds", "5 (0: stop at once)")
