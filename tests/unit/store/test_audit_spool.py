"""The audit spool: records of a worker killed outright (SIGKILL) reach the database through the next worker.

The kill is real: a child Python process spools records with a batch window long enough that none is written,
and is SIGKILLed; a writer started afterwards takes its spool over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from service.store import InvocationRecord
from service.store import Store
from service.store import spool as spool_module
from service.store.audit import AuditCounters
from service.store.audit import AuditWriter
from service.store.repository import IssuedCard
from service.store.spool import AuditSpool
from service.store.spool import orphans

REPO_ROOT = Path(__file__).resolve().parents[3]

_CHILD = textwrap.dedent(
    """
    import sys, time, uuid
    from datetime import UTC, datetime
    from pathlib import Path
    from service.store import InvocationRecord, Store
    from service.store.audit import AuditWriter
    from service.store.repository import IssuedCard

    url, spool_dir, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    store = Store(url, audit_key="k")
    # A batch window far longer than the test: only the spool can bring these records to the database.
    writer = AuditWriter(store, spool_dir=spool_dir, max_delay_s=600, max_batch=10_000)
    for number in range(count):
        writer.submit(InvocationRecord(
            hook_instance=str(uuid.uuid4()), service_id="cgh-patient-view", hook="patient-view",
            patient_id=f"patient-{number}", client_iss=None, received_at=datetime.now(UTC), duration_ms=1.0,
            cards=[IssuedCard(str(uuid.uuid4()), "pt-first-line", "info")],
        ))
    print("spooled", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    instance = Store(f"sqlite:///{tmp_path / 'audit.sqlite3'}", audit_key="k")
    instance.create_schema()
    yield instance
    instance.dispose()


def _record(patient: str = "p") -> InvocationRecord:
    return InvocationRecord(
        hook_instance=str(uuid.uuid4()), service_id="cgh-patient-view", hook="patient-view", patient_id=patient,
        client_iss=None, received_at=datetime.now(UTC), duration_ms=1.0,
        cards=[IssuedCard(str(uuid.uuid4()), "pt-first-line", "info")],
    )


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _spool_and_kill(store: Store, spool_dir: Path, count: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, store.url, str(spool_dir), str(count)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "spooled"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


def test_the_next_writer_recovers_every_record_of_a_killed_process(store: Store, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    _spool_and_kill(store, spool_dir, 40)
    assert _count(store, "invocations") == 0  # the killed process wrote nothing itself
    recovered: list[int] = []
    writer = AuditWriter(store, spool_dir=spool_dir, counters=AuditCounters(recovered=recovered.append))
    writer.start()
    writer.flush(timeout_s=10)
    assert (_count(store, "invocations"), _count(store, "cards_issued")) == (40, 40)
    assert recovered == [40]
    writer.close()
    assert list(spool_dir.iterdir()) == []  # the orphan and this writer's own (fully written) spool are gone


def test_a_live_writer_takes_over_a_spool_left_after_it_started(store: Store, tmp_path: Path) -> None:
    """As after HUP or TERM to one worker: the replacement starts first, the old process leaves a spool later."""
    spool_dir = tmp_path / "spool"
    recovered: list[int] = []
    writer = AuditWriter(store, spool_dir=spool_dir, orphan_sweep_s=0.2,
                         counters=AuditCounters(recovered=recovered.append))
    writer.start()
    writer.flush(timeout_s=10)
    _spool_and_kill(store, spool_dir, 25)
    deadline = time.monotonic() + 20
    while _count(store, "cards_issued") < 25:
        assert time.monotonic() < deadline, "the live writer did not take the spool over"
        time.sleep(0.05)
    assert recovered == [25] and _count(store, "invocations") == 25
    writer.close()
    assert list(spool_dir.iterdir()) == []


def test_the_spool_holds_no_patient_id_in_clear(store: Store, tmp_path: Path) -> None:
    writer = AuditWriter(store, spool_dir=tmp_path / "spool", max_delay_s=600)
    writer.submit(_record("patient-secret-42"))
    (spool_file,) = (tmp_path / "spool").glob("*.spool")
    content = spool_file.read_bytes()
    assert b"patient-secret-42" not in content and store.patient_hash("patient-secret-42").encode() in content
    writer.close()


def test_records_already_in_the_database_are_not_written_twice(store: Store) -> None:
    record = _record()
    store.record_invocation(record)
    row = store.audit_row(record)
    spooled = {**row, "received_at": row["received_at"].isoformat()}
    fresh = store.audit_row(_record())
    assert store.restore_invocations([spooled, {**fresh, "received_at": fresh["received_at"].isoformat()}]) == 1
    assert _count(store, "invocations") == 2


def test_a_live_process_spool_is_never_taken_over(tmp_path: Path) -> None:
    live = AuditSpool.create(tmp_path)
    with live.lock:
        live.append_locked(b'{"x": 1}\n')
    assert list(orphans(tmp_path, own=None)) == []
    live.close(fully_written=False)
    (orphan,) = orphans(tmp_path, own=None)
    assert orphan.records == [{"x": 1}]
    orphan.release(remove=True)
    assert list(tmp_path.iterdir()) == []


def test_unreadable_lines_are_counted_as_lost(store: Store, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    _spool_and_kill(store, spool_dir, 3)
    (spool_file,) = spool_dir.glob("*.spool")
    with spool_file.open("ab") as torn:
        torn.write(b'{"hook_instance": "cut off by a crash')
    lost: list[int] = []
    recovered: list[int] = []
    writer = AuditWriter(store, spool_dir=spool_dir,
                         counters=AuditCounters(lost=lost.append, recovered=recovered.append))
    writer.start()
    writer.flush(timeout_s=10)
    assert (lost, recovered) == ([1], [3])
    writer.close()


def test_a_fully_written_spool_is_truncated_once_large(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "ROTATE_BYTES", 2000)
    writer = AuditWriter(store, spool_dir=tmp_path / "spool")
    for _ in range(20):
        writer.submit(_record())
    writer.flush(timeout_s=10)
    (spool_file,) = (tmp_path / "spool").glob("*.spool")
    assert spool_file.stat().st_size == 0
    assert _count(store, "invocations") == 20
    writer.close()
