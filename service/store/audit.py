"""The audit writer: invocation records written in batches by a background thread, off the answer's path.

The EHR's answer must not wait on the database (the CDS Hooks latency budget is ~500 ms end to end, and two
workers writing one SQLite file queue behind each other). Records are queued and written in one transaction
per batch, at most ``max_delay_s`` after they were queued. An orderly stop (SIGTERM, HUP, recycling: gunicorn's
graceful shutdown) flushes the queue first.

With a spool folder (the real server), each record is first appended to this process's spool file
(``service.store.spool``), before the answer is sent: a worker killed outright (SIGKILL) loses nothing, the
next worker to start, or any live worker within ``orphan_sweep_s``, writes what the database lacks. A live
worker's sweep is what covers a process that stopped after its replacement had started (HUP, TERM to one worker,
recycling) with a batch it could not write. Without one (tests, in-process tools) a killed process
may lose its last fraction of a second of audit rows. Feedback, which a client does submit, is never queued:
it is committed before the 200.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.errors import StoreUnavailableError
from service.store.repository import InvocationRecord
from service.store.repository import Store
from service.store.spool import AuditSpool
from service.store.spool import encode_record
from service.store.spool import orphans

log = logging.getLogger("service.store")

_STOP = object()


def _ignore(count: int) -> None:
    pass


@dataclass(frozen=True, slots=True)
class AuditCounters:
    """Where the writer reports what it could not write at once (Prometheus counters in the service).

    :param dropped: records not written because the database stayed unavailable (kept in the spool, if any).
    :param recovered: records the database lacked, written from the spool of a process that died.
    :param lost: records known to be lost: unreadable spool lines.
    """

    dropped: Callable[[int], None] = _ignore
    recovered: Callable[[int], None] = _ignore
    lost: Callable[[int], None] = _ignore


@dataclass(frozen=True, slots=True)
class _Queued:
    row: dict[str, Any]  # the record as stored (``Store.audit_row``): built once, for the spool and the database
    spool_offset: int  # the spool's size just after this record's line (0: not spooled)


class AuditWriter:
    """Queue invocation records and write them in batches from one thread per process.

    ``synchronous=True`` writes each record before :meth:`submit` returns (tests, and a fallback).
    ``spool_dir``: journal each record there first (see the module docstring); ignored when synchronous.
    ``orphan_sweep_s``: how often the writer thread looks for spools of stopped processes to take over.
    """

    def __init__(
        self,
        store: Store,
        *,
        synchronous: bool = False,
        spool_dir: Path | None = None,
        max_batch: int = 200,
        max_delay_s: float = 0.05,
        max_queued: int = 10_000,
        orphan_sweep_s: float = 5.0,
        counters: AuditCounters | None = None,
    ) -> None:
        self._store = store
        self._synchronous = synchronous
        self._spool_dir = None if synchronous else spool_dir
        self._spool: AuditSpool | None = None
        self._spool_behind = False  # a batch was dropped: the spool keeps it, so its checkpoint stays put
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._orphan_sweep_s = orphan_sweep_s
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queued)
        self._counters = counters or AuditCounters()
        self._lock = threading.Lock()
        # Cuts the writer's batch window short (flush, close); records alone never wake it (see _run).
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._owner_pid: int | None = None

    def start(self) -> None:
        """Start this process's writer thread (and spool) now rather than at the first :meth:`submit`."""
        if not self._synchronous:
            self._ensure_thread()

    def submit(self, record: InvocationRecord) -> None:
        """Spool and queue ``record`` (or write it now when synchronous, the queue is full, or the spool fails).

        :raises StoreUnavailableError: it had to be written now and the database is unavailable.
        """
        if self._synchronous:
            self._store.record_invocation(record)
            return
        self._ensure_thread()
        row = self._store.audit_row(record)
        spool = self._spool
        if spool is None:
            self._enqueue(_Queued(row, 0))
            return
        line = encode_record(row)
        with spool.lock:  # the queue's order is the spool's order, so a checkpoint never passes an unwritten line
            try:
                offset = spool.append_locked(line)
            except OSError:
                log.exception("audit spool write failed: writing this record to the database now")
                self._store.record_audit_rows([row])
                return
            self._enqueue(_Queued(row, offset))

    def _enqueue(self, item: _Queued) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            # Back-pressure instead of loss: this request pays for its own write.
            self._store.record_audit_rows([item.row])

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until everything queued so far is written (or ``timeout_s`` passes)."""
        if self._thread is None or self._owner_pid != os.getpid():
            return
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout_s)
        except queue.Full:
            return
        self._wake.set()
        done.wait(timeout_s)

    def close(self) -> None:
        """Write what is queued and stop the thread (idempotent; registered with ``atexit``)."""
        thread = self._thread
        if thread is None or self._owner_pid != os.getpid() or not thread.is_alive():
            return
        self._queue.put(_STOP)
        self._wake.set()
        thread.join(timeout=10)
        spool, self._spool = self._spool, None
        if spool is not None:
            spool.close(fully_written=not thread.is_alive() and not self._spool_behind)

    def _ensure_thread(self) -> None:
        # gunicorn forks workers after the app is built: each process starts its own writer thread.
        if self._thread is not None and self._owner_pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._owner_pid == os.getpid() and self._thread.is_alive():
                return
            if self._owner_pid != os.getpid():
                self._queue = queue.Queue(maxsize=self._queue.maxsize)
                self._spool = None  # the parent's spool (if any) is the parent's
                if self._spool_dir is not None:
                    try:
                        self._spool = AuditSpool.create(self._spool_dir)
                    except OSError:
                        log.exception("audit spool unavailable: audit rows of a killed worker may be lost",
                                      extra={"spool_dir": str(self._spool_dir)})
            self._owner_pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="cgh-audit-writer", daemon=True)
            self._thread.start()
            # Registered only once a writer thread runs: synchronous writers (tests) hold nothing open at exit.
            atexit.register(self.close)

    def _run(self) -> None:
        self._take_over_orphans()
        next_sweep = time.monotonic() + self._orphan_sweep_s
        while True:
            if time.monotonic() >= next_sweep:
                # A process that stopped after this one started (its replacement, or a sibling recycled) may
                # have left records in its spool: its lock is free now, so no start will come to take them.
                self._take_over_orphans()
                next_sweep = time.monotonic() + self._orphan_sweep_s
            try:
                first = self._queue.get(timeout=max(0.0, next_sweep - time.monotonic()))
            except queue.Empty:
                continue
            self._wake.clear()
            batch: list[_Queued] = []
            markers: list[threading.Event] = []
            stop = False
            deadline = time.monotonic() + self._max_delay_s
            item: object = first
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    markers.append(item)
                elif isinstance(item, _Queued):
                    batch.append(item)
                if stop or markers or len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                    continue
                except queue.Empty:
                    pass
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                # One wait for the rest of the batch window, not one wake-up per record: each wake-up is a
                # thread switch on the cores that answer the requests (issue 13). flush() and close() cut it short.
                self._wake.wait(remaining)
                self._wake.clear()
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if stop or markers:
                # Drain what is already queued so a flush or stop covers everything submitted before it.
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, _Queued):
                        batch.append(item)
                    elif isinstance(item, threading.Event):
                        markers.append(item)
                    elif item is _STOP:
                        stop = True
            self._write(batch)
            for marker in markers:
                marker.set()
            if stop:
                return

    def _write(self, batch: list[_Queued]) -> None:
        if not batch:
            return
        for attempt in (1, 2):
            try:
                self._store.record_audit_rows([item.row for item in batch])
                break
            except StoreUnavailableError:
                if attempt == 2:
                    log.error("audit batch not written: database unavailable", extra={"records": len(batch)})
                    self._counters.dropped(len(batch))
                    self._spool_behind = True
                    return
                time.sleep(0.5)
        if self._spool is not None and not self._spool_behind:
            self._spool.mark_written(max(item.spool_offset for item in batch))

    def _take_over_orphans(self) -> None:
        """Write the records of dead processes' spools that the database lacks, then remove those spools."""
        if self._spool_dir is None:
            return
        own = self._spool.path if self._spool is not None else None
        try:
            for orphan in orphans(self._spool_dir, own=own):
                try:
                    restored = self._store.restore_invocations(orphan.records)
                except Exception:
                    log.exception("audit spool take-over failed: kept for the next worker",
                                  extra={"spool": orphan.path.name})
                    orphan.release(remove=False)
                    continue
                orphan.release(remove=True)
                if orphan.unreadable:
                    log.error("audit spool lines unreadable", extra={"spool": orphan.path.name,
                                                                     "records": orphan.unreadable})
                    self._counters.lost(orphan.unreadable)
                if restored:
                    log.warning("audit records recovered from the spool of a stopped worker",
                                extra={"spool": orphan.path.name, "records": restored})
                    self._counters.recovered(restored)
        except OSError:
            log.exception("audit spool folder unreadable", extra={"spool_dir": str(self._spool_dir)})
