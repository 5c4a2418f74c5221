"""Alembic migrations: every revision up and down on SQLite and PostgreSQL, and the result equals the models.

On PostgreSQL each test uses a database of its own (created and dropped here), so the shared test server's
other databases are untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import inspect
from sqlalchemy import make_url
from sqlalchemy import text

from service.store.models import Base
from service.store.repository import make_engine
from service.store.schema import MIGRATIONS_DIR
from service.store.schema import SchemaOutOfDateError
from service.store.schema import current_revision
from service.store.schema import downgrade
from service.store.schema import head_revision
from service.store.schema import prepare_schema
from service.store.schema import upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        created = make_engine(f"sqlite:///{tmp_path_factory.mktemp('migrations') / 'db.sqlite3'}")
        yield created
        created.dispose()
        return
    server = make_url(request.getfixturevalue("postgres_url"))
    name = f"cgh_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    created = make_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
        yield created
    finally:
        created.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True}
        )
        return list(compare_metadata(context, Base.metadata))


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_the_revisions_form_one_line_from_the_baseline() -> None:
    revisions = _revisions()
    assert revisions[0] == "0001" and revisions[-1] == head_revision()
    assert len(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()) == 1


def test_upgrading_to_the_newest_revision_gives_the_models_schema(engine: Engine) -> None:
    assert upgrade(engine) == (None, head_revision())
    assert _differences(engine) == []


def test_every_revision_goes_up_and_down_and_up_again(engine: Engine) -> None:
    revisions = _revisions()
    for revision in revisions:
        upgrade(engine, revision)
        assert current_revision(engine) == revision
    for previous in reversed(["base", *revisions[:-1]]):
        downgrade(engine, previous)
        assert current_revision(engine) == (None if previous == "base" else previous)
    assert inspect(engine).get_table_names() == ["alembic_version"]
    upgrade(engine)
    assert _differences(engine) == []


def test_a_database_made_before_migrations_is_stamped_at_the_baseline_and_upgraded(engine: Engine) -> None:
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))  # as create_all left it
    assert current_revision(engine) is None
    assert upgrade(engine) == (None, head_revision())
    assert _differences(engine) == []


def test_an_out_of_date_schema_is_refused_with_the_command_to_run(engine: Engine) -> None:
    upgrade(engine, "0001")
    with pytest.raises(SchemaOutOfDateError, match=r"at revision 0001.*`cgh-cds db upgrade`"):
        prepare_schema(engine)
    upgrade(engine)
    prepare_schema(engine)  # current: no error


def test_only_an_empty_sqlite_database_is_created_on_the_spot(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        prepare_schema(engine)
        assert current_revision(engine) == head_revision()
        assert _differences(engine) == []
    else:
        with pytest.raises(SchemaOutOfDateError, match="is empty.*`cgh-cds db upgrade`"):
            prepare_schema(engine)
