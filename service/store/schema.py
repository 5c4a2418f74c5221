"""The database schema's version: Alembic migrations under ``service/store/migrations``.

``cgh-cds db upgrade`` moves a database to the newest revision (run once per deployment, before the replicas
start: compose's ``migrate`` service, ``scripts/stack``, the Kubernetes migration Job); ``cgh-cds db current``
shows where it is. The app itself never migrates a database that holds data: :func:`prepare_schema` refuses to
start on an out-of-date schema, naming the command. The one exception is an empty SQLite database (the
development default, and every test's fresh file): it is created at the newest revision on the spot, since
one file on one host has no replicas to race and nothing to lose.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import inspect

from service.errors import StartupError
from service.store.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The revision that describes the schema ``create_all`` made before migrations existed.
BASELINE_REVISION = "0001"
UPGRADE_COMMAND = "cgh-cds db upgrade"


class SchemaOutOfDateError(StartupError):
    """The database's schema is not the one this code needs; ``cgh-cds db upgrade`` fixes it."""


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None  # the migrations folder ships with the package
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision, or None when it was never migrated (empty, or made before migrations)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``revision``; returns (before, after).

    A database made by ``create_all`` before migrations existed (tables, no version) is first stamped at the
    baseline revision, whose schema it has.
    """
    with engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        config = _config(connection)
        if before is None and inspect(connection).has_table("invocations"):
            command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, revision)
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def prepare_schema(engine: Engine) -> None:
    """Make sure the schema is current before the app serves anything.

    An empty SQLite database is created at the newest revision (``create_all`` and stamp: the tests check the
    migrations give the same schema). Anything else must already be at the newest revision.

    :raises SchemaOutOfDateError: naming the database's revision, the one needed and the command to run.
    """
    head = head_revision()
    with engine.begin() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        empty = not inspect(connection).get_table_names()
        if empty and connection.dialect.name == "sqlite":
            Base.metadata.create_all(connection)
            command.stamp(_config(connection), head)
            return
    where = "empty" if empty else f"at revision {current or 'none (made before migrations)'}"
    raise SchemaOutOfDateError(
        f"the database schema is {where}; this version of the service needs revision {head}. "
        f"Run `{UPGRADE_COMMAND}` (with the same CGH_DATABASE_URL) once, then start the service."
    )
