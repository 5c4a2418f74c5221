"""What the durable audit costs per answered call, on the request's own thread.

Three ways to make every answered card reach ``cards_issued`` even if the worker is SIGKILLed, timed per
record on the calling thread (the time the answer waits), in alternating rounds so the machine's noise hits all
alike:

* **queue only** (the floor, and the service before the spool): ``AuditWriter.submit`` queues the record; a
  kill loses the last batch window;
* **spool + queue** (the service now): one ``write(2)`` to the worker's spool file, then the queue;
* **synchronous insert**: the record is committed before the answer (SQLite WAL file; PostgreSQL when
  ``CGH_BENCH_DATABASE_URL`` or ``CGH_TEST_DATABASE_URL`` is set).

The record is a typical one: a patient-view call with two cards.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from service.store import InvocationRecord
from service.store import Store
from service.store.audit import AuditWriter
from service.store.repository import IssuedCard


def _record() -> InvocationRecord:
    return InvocationRecord(
        hook_instance=str(uuid.uuid4()), service_id="cgh-patient-view", hook="patient-view",
        patient_id="bench-patient-1", client_iss="https://ehr.example.org", received_at=datetime.now(UTC),
        duration_ms=2.5,
        cards=[IssuedCard(str(uuid.uuid4()), "pt-first-line", "info"),
               IssuedCard(str(uuid.uuid4()), "imaging-not-indicated", "warning")],
    )


def _time_round(submit: Callable[[InvocationRecord], None], count: int) -> tuple[list[float], list[float]]:
    """Per-record wall and thread-CPU microseconds of ``count`` submits (records built outside the timing)."""
    records = [_record() for _ in range(count)]
    wall: list[float] = []
    cpu: list[float] = []
    for record in records:
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        submit(record)
        cpu.append((time.thread_time_ns() - started_cpu) / 1000)
        wall.append((time.perf_counter_ns() - started) / 1000)
    return wall, cpu


def audit_section(*, quick: bool) -> list[dict[str, Any]]:
    rounds, per_round = (4, 100) if quick else (10, 200)
    postgres_url = os.environ.get("CGH_BENCH_DATABASE_URL") or os.environ.get("CGH_TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="cgh-bench-audit-") as tmp:
        sqlite = Store(f"sqlite:///{Path(tmp) / 'audit.sqlite3'}", audit_key="bench")
        sqlite.create_schema()
        writers: dict[str, AuditWriter] = {
            "queue only (floor; before the spool)": AuditWriter(sqlite),
            "spool + queue (the service now)": AuditWriter(sqlite, spool_dir=Path(tmp) / "spool"),
            "synchronous insert, SQLite": AuditWriter(sqlite, synchronous=True),
        }
        stores = [sqlite]
        if postgres_url:
            postgres = Store(postgres_url, audit_key="bench")
            postgres.create_schema()
            stores.append(postgres)
            writers["spool + queue, PostgreSQL batches"] = AuditWriter(postgres, spool_dir=Path(tmp) / "spool-pg")
            writers["synchronous insert, PostgreSQL"] = AuditWriter(postgres, synchronous=True)
        samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in writers}
        try:
            for writer in writers.values():  # warm: threads, spool files, pooled connections
                _time_round(writer.submit, 20)
                writer.flush()
            for _ in range(rounds):
                for name, writer in writers.items():
                    wall, cpu = _time_round(writer.submit, per_round)
                    samples[name][0].extend(wall)
                    samples[name][1].extend(cpu)
                    writer.flush()  # each round starts with an empty queue
        finally:
            for writer in writers.values():
                writer.close()
            for store in stores:
                store.dispose()
    floor = statistics.median(samples["queue only (floor; before the spool)"][0])
    rows = []
    for name, (wall, cpu) in samples.items():
        ordered = sorted(wall)
        rows.append({
            "case": name,
            "records": len(wall),
            "p50_us": round(statistics.median(wall), 1),
            "p95_us": round(ordered[int(len(ordered) * 0.95) - 1], 1),
            "cpu_p50_us": round(statistics.median(cpu), 1),
            "x_floor": round(statistics.median(wall) / floor, 1),
        })
    return rows


def render(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["Audit cost per answered call on the request thread (typical record, 2 cards); floor = queue only",
             f"{'case':<40} {'records':>8} {'p50 us':>9} {'p95 us':>9} {'cpu p50 us':>11} {'x floor':>8}"]
    for row in rows:
        lines.append(f"{row['case']:<40} {row['records']:>8} {row['p50_us']:>9.1f} {row['p95_us']:>9.1f} "
                     f"{row['cpu_p50_us']:>11.1f} {row['x_floor']:>8.1f}")
    return lines
