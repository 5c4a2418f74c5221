"""Shared fixtures: settings, app, client, a fixed ``today``, the scenario files, and real components.

In CI (``CI=true``) a test that needs a real component (PostgreSQL, Chromium, the FHIR test server,
gunicorn) must run: a skip of such a test fails the session instead of hiding.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings as hypothesis_settings

from service import create_app
from service.config import AuthMode
from service.config import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = REPO_ROOT / "fhir_fixtures"
#: Third-party data (origins and licences in its README.md), kept in the repository so a clone stands alone.
REALWORLD_DIR = REPO_ROOT / "tests" / "data" / "realworld"
REAL_COMPONENT_MARKERS = ("postgres", "browser", "fhirserver", "integration")

# CI replays the same generated examples on every run, so a red CI is a reproducible finding, never a lucky draw;
# developers' runs explore new examples each time (hypothesis' default). A failure found locally prints the
# example to add as a regression test.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture
def today() -> date:
    """The scenarios' reference date (docs/clinical/reference.md §4)."""
    return date(2025, 6, 1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        auth=AuthMode.OFF,
        database_url=f"sqlite:///{tmp_path / 'test.sqlite3'}",
        instance_path=tmp_path,
        audit_key="test-audit-key",
        testing=True,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    yield application
    application.extensions["cgh_runtime"].store.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL started by scripts/test (CGH_TEST_DATABASE_URL)."""
    url = os.environ.get("CGH_TEST_DATABASE_URL")
    if not url:
        pytest.skip("CGH_TEST_DATABASE_URL is not set: run the suite with scripts/test to get a real PostgreSQL")
    return url


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


_skipped_real: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and any(marker in report.keywords for marker in REAL_COMPONENT_MARKERS):
        _skipped_real.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    if in_ci() and _skipped_real:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"FAILED: {len(_skipped_real)} test(s) needing a real component were skipped in CI:", red=True
            )
            for nodeid in _skipped_real:
                reporter.write_line(f"  {nodeid}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_DIRECTORY_MARKERS = {"integration": "integration", "browser": "browser", "contract": None, "scenarios": None}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The directory sets the marker: everything under tests/integration is ``integration``, and so on."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO_ROOT / "tests").parts
        marker = _DIRECTORY_MARKERS.get(parts[0]) if len(parts) > 1 else None
        if marker:
            item.add_marker(getattr(pytest.mark, marker))
