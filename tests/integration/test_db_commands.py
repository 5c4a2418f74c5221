"""``cgh-cds db upgrade|current`` and ``serve``'s refusal of an out-of-date schema, as an operator runs them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from service.store.repository import make_engine
from service.store.schema import head_revision
from service.store.schema import upgrade
from tests.conftest import REPO_ROOT
from tests.servers import CLI
from tests.servers import running_service

pytestmark = pytest.mark.integration


def _cli(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CGH_")}
    full_env.update({"CGH_DATABASE_URL": url, "CGH_AUTH": "off", **(env or {})})
    return subprocess.run([str(CLI), *args], cwd=REPO_ROOT, env=full_env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_serve_refuses_an_out_of_date_schema_until_db_upgrade_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))  # a database made by create_all before migrations
    engine.dispose()

    current = _cli(url, "db", "current")
    assert current.returncode == 1 and "needs: cgh-cds db upgrade" in current.stdout

    refused = _cli(url, "serve", "--port", "1", "--workers", "1")
    assert refused.returncode == 2
    assert "Run `cgh-cds db upgrade`" in refused.stderr and head_revision() in refused.stderr
    assert "Traceback" not in refused.stderr

    # As in the image (CGH_AUTH=required) without a trusted-clients file: migrating reads only the database.
    upgraded = _cli(url, "db", "upgrade", env={"CGH_AUTH": "required", "CGH_TRUSTED_CLIENTS": "/nonexistent"})
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"-> {head_revision()}" in upgraded.stdout
    assert _cli(url, "db", "current").stdout.startswith(f"database: {head_revision()};")

    with running_service(tmp_path, {"CGH_DATABASE_URL": url}, workers=1) as service:
        assert requests.get(f"{service.base_url}/readyz", timeout=10).status_code == 200


def test_an_empty_sqlite_database_is_created_at_start_for_development(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'dev.sqlite3'}"
    with running_service(tmp_path, {"CGH_DATABASE_URL": url}, workers=1) as service:
        assert requests.get(f"{service.base_url}/readyz", timeout=10).status_code == 200
    assert _cli(url, "db", "current").returncode == 0


@pytest.mark.postgres
def test_serve_refuses_an_empty_postgresql_and_db_upgrade_is_idempotent(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy import make_url

    server = make_url(postgres_url)
    name = "cgh_db_commands_test"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        refused = _cli(url, "serve", "--port", "1", "--workers", "1")
        assert refused.returncode == 2 and "is empty" in refused.stderr and "cgh-cds db upgrade" in refused.stderr
        assert _cli(url, "db", "upgrade").returncode == 0
        again = _cli(url, "db", "upgrade")
        assert again.returncode == 0 and f"{head_revision()} -> {head_revision()}" in again.stdout
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
