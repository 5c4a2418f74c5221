"""The audit writer: invocation records written in batches by a background thread, off the answer's path.

The EHR's answer must not wait on the database (the CDS Hooks latency budget is ~500 ms end to end, and two
workers writing one SQLite file queue behind each other). Records are queued and written in one transaction
per batch, at most ``max_delay_s`` after they were queued. The audit is our own trail, not something a
client submitted: a process killed outright (SIGKILL, power loss) may lose its last fraction of a second of
audit rows; an orderly stop (SIGTERM, gunicorn's graceful shutdown) flushes the queue first. Feedback, which
a client does submit, is never queued: it is committed before the 200.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from service.errors import StoreUnavailableError
from service.store.repository import InvocationRecord
from service.store.repository import Store

log = logging.getLogger("service.store")

_STOP = object()


class AuditWriter:
    """Queue invocation records and write them in batches from one thread per process.

    ``synchronous=True`` writes each record before :meth:`submit` returns (tests, and a fallback).
    """

    def __init__(
        self,
        store: Store,
        *,
        synchronous: bool = False,
        max_batch: int = 200,
        max_delay_s: float = 0.05,
        max_queued: int = 10_000,
        on_dropped: Callable[[int], None] = lambda count: None,
    ) -> None:
        self._store = store
        self._synchronous = synchronous
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queued)
        self._on_dropped = on_dropped
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._owner_pid: int | None = None

    def submit(self, record: InvocationRecord) -> None:
        """Queue ``record`` (or write it now when synchronous, or when the queue is full)."""
        if self._synchronous:
            self._store.record_invocation(record)
            return
        self._ensure_thread()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            # Back-pressure instead of loss: this request pays for its own write.
            self._store.record_invocation(record)

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until everything queued so far is written (or ``timeout_s`` passes)."""
        if self._thread is None or self._owner_pid != os.getpid():
            return
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout_s)
        except queue.Full:
            return
        done.wait(timeout_s)

    def close(self) -> None:
        """Write what is queued and stop the thread (idempotent; registered with ``atexit``)."""
        thread = self._thread
        if thread is None or self._owner_pid != os.getpid() or not thread.is_alive():
            return
        self._queue.put(_STOP)
        thread.join(timeout=10)

    def _ensure_thread(self) -> None:
        # gunicorn forks workers after the app is built: each process starts its own writer thread.
        if self._thread is not None and self._owner_pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._owner_pid == os.getpid() and self._thread.is_alive():
                return
            if self._owner_pid != os.getpid():
                self._queue = queue.Queue(maxsize=self._queue.maxsize)
            self._owner_pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="cgh-audit-writer", daemon=True)
            self._thread.start()
            # Registered only once a writer thread runs: synchronous writers (tests) hold nothing open at exit.
            atexit.register(self.close)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch: list[InvocationRecord] = []
            markers: list[threading.Event] = []
            stop = False
            deadline = time.monotonic() + self._max_delay_s
            item: object = first
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    markers.append(item)
                elif isinstance(item, InvocationRecord):
                    batch.append(item)
                if stop or markers or len(batch) >= self._max_batch:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if stop or markers:
                # Drain what is already queued so a flush or stop covers everything submitted before it.
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, InvocationRecord):
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

    def _write(self, batch: list[InvocationRecord]) -> None:
        if not batch:
            return
        for attempt in (1, 2):
            try:
                self._store.record_invocations(batch)
                return
            except StoreUnavailableError:
                if attempt == 2:
                    log.error("audit batch dropped: database unavailable", extra={"records": len(batch)})
                    self._on_dropped(len(batch))
                    return
                time.sleep(0.5)
