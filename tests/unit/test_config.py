"""Settings.from_env: defaults, coercion, and start-up errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import AuthMode
from service.config import ProcessSettings
from service.config import Settings
from service.errors import ConfigError


def test_defaults_with_auth_off_use_embedded_sqlite(tmp_path: Path) -> None:
    settings = Settings.from_env({"CGH_AUTH": "off", "CGH_INSTANCE_PATH": str(tmp_path)})
    assert settings.auth is AuthMode.OFF
    assert settings.fhir_timeout_s == 3.0
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'cgh-cds.sqlite3'}"
    assert settings.thresholds.pt_min_weeks == 8


def test_auth_required_without_trusted_clients_stops_startup() -> None:
    with pytest.raises(ConfigError, match="CGH_TRUSTED_CLIENTS"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("CGH_AUTH", "maybe", "'required'"),
        ("CGH_FHIR_TIMEOUT_S", "soon", "number of seconds"),
        ("CGH_FHIR_TIMEOUT_S", "100", "between 0.1 and 30"),
        ("CGH_MAX_BODY_MB", "-1", "between"),
        ("CGH_PUBLIC_BASE_URL", "cds.example.org", "absolute http(s) URL"),
        ("CGH_DATABASE_URL", "mysql://x", "SQLite or PostgreSQL"),
        ("CGH_CORS_ORIGINS", "https://a.example/path", "not an origin"),
        ("CGH_PT_MIN_WEEKS", "0", "greater than zero"),
        ("CGH_STORE_COMMENTS", "perhaps", "boolean"),
        ("CGH_TRUSTED_CLIENTS", "/nonexistent/clients.json", "no such file"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env({"CGH_AUTH": "off", name: value})
    assert name in str(excinfo.value)
    assert fragment in str(excinfo.value)


def test_values_are_coerced_and_normalised() -> None:
    settings = Settings.from_env(
        {
            "CGH_AUTH": "OFF",
            "CGH_PUBLIC_BASE_URL": "https://cds.example.org/",
            "CGH_DATABASE_URL": "postgresql://u:p@db/cgh",
            "CGH_CORS_ORIGINS": "https://sandbox.cds-hooks.org, http://localhost:3000/",
            "CGH_FHIR_TIMEOUT_S": "2.5",
            "CGH_MAX_BODY_MB": "1",
            "CGH_STORE_COMMENTS": "yes",
            "CGH_PT_MIN_SESSIONS": "5",
        }
    )
    assert settings.public_base_url == "https://cds.example.org"
    assert settings.database_url == "postgresql+psycopg://u:p@db/cgh"
    assert settings.cors_origins == ("https://sandbox.cds-hooks.org", "http://localhost:3000")
    assert settings.fhir_timeout_s == 2.5
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.store_comments is True
    assert settings.thresholds.pt_min_sessions == 5


def test_the_removed_session_count_alternative_is_refused_not_ignored() -> None:
    # revision-2 C1 dropped "or 12 sessions": a deployment still setting it must hear so at start-up.
    with pytest.raises(ConfigError, match="CGH_PT_ALT_SESSIONS was removed"):
        Settings.from_env({"CGH_AUTH": "off", "CGH_PT_ALT_SESSIONS": "12"})
    assert Settings.from_env({"CGH_AUTH": "off", "CGH_PT_MIN_SESSIONS": "20"}).thresholds.pt_min_sessions == 20


def test_process_settings_default_to_no_recycling_and_a_five_second_drain() -> None:
    process = ProcessSettings.from_env({})
    assert (process.max_requests, process.jitter, process.graceful_timeout, process.drain_s) == (0, 0, 10, 5.0)


def test_process_settings_from_the_environment_with_a_tenth_as_default_jitter() -> None:
    process = ProcessSettings.from_env({"CGH_MAX_REQUESTS": "5000", "CGH_GRACEFUL_TIMEOUT_S": "20",
                                        "CGH_DRAIN_S": "0"})
    assert (process.max_requests, process.jitter, process.graceful_timeout, process.drain_s) == (5000, 500, 20, 0)
    assert ProcessSettings.from_env({"CGH_MAX_REQUESTS": "100", "CGH_MAX_REQUESTS_JITTER": "0"}).jitter == 0


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("CGH_MAX_REQUESTS", "-1", "must not be negative"),
        ("CGH_MAX_REQUESTS_JITTER", "lots", "not an integer"),
        ("CGH_GRACEFUL_TIMEOUT_S", "0", "greater than zero"),
        ("CGH_DRAIN_S", "600", "between 0 and 120"),
    ],
)
def test_bad_process_settings_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=name) as error:
        ProcessSettings.from_env({name: value})
    assert fragment in str(error.value)


def test_serve_rejects_a_negative_option_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from service.cli import main

    monkeypatch.setenv("CGH_AUTH", "off")
    monkeypatch.setenv("CGH_INSTANCE_PATH", str(tmp_path))
    assert main(["serve", "--drain-seconds", "-1"]) == 2
    assert "--drain-seconds=-1 is out of range: give 0 or more." in capsys.readouterr().err
