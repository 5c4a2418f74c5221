"""The batched audit writer: rows land shortly after submit, in batches; flush and close lose nothing."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

from service.store import InvocationRecord
from service.store import Store
from service.store.audit import AuditCounters
from service.store.audit import AuditWriter
from service.store.repository import FeedbackRecord
from service.store.repository import IssuedCard


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    instance = Store(f"sqlite:///{tmp_path / 'audit.sqlite3'}", audit_key="k")
    instance.create_schema()
    yield instance
    instance.dispose()


def _record(card_uuid: str | None = None) -> InvocationRecord:
    return InvocationRecord(
        hook_instance=str(uuid.uuid4()), service_id="cgh-patient-view", hook="patient-view", patient_id="p",
        client_iss=None, received_at=datetime.now(UTC), duration_ms=1.0,
        cards=[IssuedCard(card_uuid or str(uuid.uuid4()), "pt-first-line", "info")],
    )


def _count(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM invocations")).scalar_one())


class _CountingStore(Store):
    def __init__(self, url: str) -> None:
        super().__init__(url, audit_key="k")
        self.batches: list[int] = []

    def record_audit_rows(self, records: object) -> None:
        self.batches.append(len(records))  # type: ignore[arg-type]
        super().record_audit_rows(records)  # type: ignore[arg-type]


def test_submitted_rows_are_written_in_batches_without_waiting(tmp_path: Path) -> None:
    store = _CountingStore(f"sqlite:///{tmp_path / 'batches.sqlite3'}")
    store.create_schema()
    writer = AuditWriter(store, max_delay_s=0.2)
    started = time.perf_counter()
    for _ in range(50):
        writer.submit(_record())
    assert time.perf_counter() - started < 0.2  # the caller never waited for a database write
    writer.flush()
    assert _count(store) == 50
    assert len(store.batches) < 50 and sum(store.batches) == 50
    writer.close()


def test_close_writes_what_is_queued(store: Store) -> None:
    writer = AuditWriter(store, max_delay_s=5.0)
    for _ in range(7):
        writer.submit(_record())
    writer.close()
    assert _count(store) == 7


def test_rows_from_many_threads_all_arrive(store: Store) -> None:
    writer = AuditWriter(store)
    threads = [threading.Thread(target=lambda: [writer.submit(_record()) for _ in range(25)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.flush()
    assert _count(store) == 200
    writer.close()


def test_a_full_queue_writes_synchronously_instead_of_dropping(store: Store) -> None:
    writer = AuditWriter(store, max_queued=1, max_delay_s=5.0)
    for _ in range(20):
        writer.submit(_record())
    writer.close()
    assert _count(store) == 20


def test_synchronous_mode_writes_before_returning(store: Store) -> None:
    AuditWriter(store, synchronous=True).submit(_record())
    assert _count(store) == 1


def test_a_lost_database_drops_the_batch_and_counts_it(store: Store, tmp_path: Path) -> None:
    dropped: list[int] = []
    writer = AuditWriter(store, counters=AuditCounters(dropped=dropped.append))
    store.engine = create_engine(f"sqlite:///{tmp_path}/gone/missing.sqlite3")
    store._sessions.configure(bind=store.engine)
    writer.submit(_record())
    writer.submit(_record())
    writer.flush(timeout_s=10)
    assert dropped == [2]
    writer.close()


def test_feedback_that_arrives_before_its_card_is_audited_still_counts(store: Store) -> None:
    card = str(uuid.uuid4())
    store.record_feedback(
        "cgh-patient-view",
        [FeedbackRecord(card, "overridden", (), "https://x", "not-applicable", None, datetime.now(UTC))],
        client_iss=None, store_comments=False,
    )
    store.record_invocation(_record(card))
    row = next(r for r in store.recommendation_summary() if r["recommendation"] == "pt-first-line")
    assert row["overridden"] == 1 and row["overrideReasons"] == {"not-applicable": 1}
