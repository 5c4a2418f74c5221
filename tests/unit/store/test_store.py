"""The store on SQLite and on a real PostgreSQL: audit, feedback, replay cache, analytics, no PHI."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from service.store import InvocationRecord
from service.store import Store
from service.store.repository import FeedbackRecord
from service.store.repository import IssuedCard


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    instance = Store(url, audit_key="k")
    instance.create_schema()
    if request.param == "postgres":
        _empty(instance)  # the server is shared with other tests (e.g. gunicorn on PostgreSQL)
    yield instance
    if request.param == "postgres":
        _empty(instance)
    instance.dispose()


def _empty(store: Store) -> None:
    with store.engine.begin() as connection:
        for table in ("feedback", "cards_issued", "invocations", "seen_jwts", "governance_configs"):
            connection.execute(text(f"DELETE FROM {table}"))


def _invocation(cards: list[IssuedCard], patient_id: str = "patient-123") -> InvocationRecord:
    return InvocationRecord(
        hook_instance=str(uuid.uuid4()), service_id="cgh-patient-view", hook="patient-view",
        patient_id=patient_id, client_iss="https://ehr.example.org", received_at=datetime.now(UTC),
        duration_ms=3.2, cards=cards,
    )


def _feedback(card: str, outcome: str, code: str | None = None) -> FeedbackRecord:
    return FeedbackRecord(card_uuid=card, outcome=outcome, accepted_suggestions=("s1",) if outcome == "accepted"
                          else (), override_system="https://x" if code else None, override_code=code,
                          user_comment="patient said X", outcome_timestamp=datetime.now(UTC))


def test_invocation_stores_hashed_patient_and_recommendations_only(store: Store) -> None:
    store.record_invocation(_invocation([IssuedCard("u1", "pt-first-line", "info")], patient_id="secret-pid"))
    with store.engine.connect() as connection:
        row = connection.execute(text("SELECT patient_hash, recommendations FROM invocations")).one()
    assert row.patient_hash == store.patient_hash("secret-pid")
    assert "secret-pid" not in row.patient_hash
    assert row.recommendations == "pt-first-line"


def test_feedback_is_tied_to_the_recommendation_and_comments_dropped_by_default(store: Store) -> None:
    store.record_invocation(_invocation([IssuedCard("u1", "imaging-not-indicated", "warning"),
                                         IssuedCard("u2", "pt-first-line", "info")]))
    stored = store.record_feedback(
        "cgh-order-sign",
        [_feedback("u1", "overridden", "red-flag-documented"), _feedback("u1", "overridden", "red-flag-documented"),
         _feedback("u2", "accepted"), _feedback("unknown-card", "overridden")],
        client_iss=None, store_comments=False,
    )
    assert stored == 4
    with store.engine.connect() as connection:
        comments = connection.execute(text("SELECT user_comment FROM feedback")).scalars().all()
    assert comments == [None, None, None, None]
    summary = {row["recommendation"]: row for row in store.recommendation_summary()}
    assert summary["imaging-not-indicated"]["overridden"] == 1  # repeats of one card count once
    assert summary["imaging-not-indicated"]["overrideRate"] == 1.0
    assert summary["imaging-not-indicated"]["overrideReasons"] == {"red-flag-documented": 2}
    assert summary["pt-first-line"]["accepted"] == 1
    assert summary["pt-first-line"]["overrideRate"] == 0.0


def test_comments_kept_when_configured(store: Store) -> None:
    store.record_feedback("cgh-patient-view", [_feedback("u9", "overridden")], client_iss=None,
                          store_comments=True)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT user_comment FROM feedback")).scalar() == "patient said X"


def test_jti_is_accepted_once_until_it_expires(store: Store) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    assert store.claim_jti("https://ehr", "jti-1", expires) is True
    assert store.claim_jti("https://ehr", "jti-1", expires) is False
    assert store.claim_jti("https://other-ehr", "jti-1", expires) is True
    assert store.claim_jti("https://ehr", "jti-old", datetime.now(UTC) - timedelta(seconds=1)) is True
    # An expired entry is purged on the next claim, so the id can be seen again.
    assert store.claim_jti("https://ehr", "jti-old", expires) is True


def test_repeated_hook_instance_does_not_fail(store: Store) -> None:
    record = _invocation([IssuedCard("same-uuid", "pt-first-line", "info")])
    store.record_invocation(record)
    store.record_invocation(record)
    assert store.ping()


def test_spooled_rows_are_restored_once_with_their_cards(store: Store) -> None:
    """The form a spool line takes (JSON: times as ISO strings) goes back in; what is already held is skipped."""
    import orjson

    held = _invocation([IssuedCard("held-card", "pt-first-line", "info")])
    lost = _invocation([IssuedCard("lost-card", "imaging-not-indicated", "warning")])
    store.record_invocation(held)
    spooled = [orjson.loads(orjson.dumps(store.audit_row(record))) for record in (held, lost)]
    assert store.restore_invocations(spooled) == 1
    assert store.restore_invocations(spooled) == 0
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM invocations")).scalar_one() == 2
        cards = dict(connection.execute(text("SELECT uuid, recommendation FROM cards_issued")).all())
    assert cards == {"held-card": "pt-first-line", "lost-card": "imaging-not-indicated"}


def test_spooled_cards_keep_version_mode_and_suggestions_and_older_lines_still_restore(store: Store) -> None:
    """A spool line carries each card's content version, mode and suggestions; a line spooled by the previous
    release (cards as [uuid, recommendation, indicator]) is restored as an active card of unknown version."""
    import orjson

    silent = _invocation([IssuedCard("silent-card", "pt-first-line", "info", version="1.2.0", mode="silent",
                                     suggestions=[("s-uuid", "refer")])])
    older = orjson.loads(orjson.dumps(store.audit_row(_invocation([IssuedCard("old-card", "red-flags", "critical")]))))
    older["cards"] = [card[:3] for card in older["cards"]]
    spooled = [orjson.loads(orjson.dumps(store.audit_row(silent))), older]
    assert store.restore_invocations(spooled) == 2
    with store.engine.connect() as connection:
        rows = {r[0]: tuple(r[1:]) for r in connection.execute(
            text("SELECT uuid, version, mode, suggestions FROM cards_issued")).all()}
        shown = connection.execute(text("SELECT recommendations FROM invocations ORDER BY id")).scalars().all()
    assert rows == {"silent-card": ("1.2.0", "silent", "s-uuid=refer"), "old-card": ("", "active", "")}
    assert shown == ["", "red-flags"]  # a silent card is not among the recommendations returned
