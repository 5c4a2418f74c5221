"""The audit spool: every answered call's audit record, appended to a local file before the answer leaves.

The audit rows reach the database in batches, up to ~50 ms after the answer (``service.store.audit``). A worker
killed outright (SIGKILL, the OOM killer, gunicorn's timeout) would take that batch with it: cards the EHR
already shows would have no ``cards_issued`` row, and feedback on them would fall out of the analytics. So each
worker first appends the record to its own spool file with one ``write(2)``. No ``fsync``: the page cache belongs
to the kernel, so the line survives the death of the process (not of the machine), and the write costs a few
microseconds instead of a disk flush (``bench/run --only audit``).

Each worker holds an exclusive ``flock`` on its file for its whole life; the kernel releases it when the process
dies, however it dies. A worker that starts, and every live worker every few seconds after that, takes over each
file whose lock it can get (an owner that is gone) and writes the records the database lacks, then removes the
file. A checkpoint file beside each spool keeps the
offset up to which the database has everything, so a long-lived worker truncates its spool when it is fully
written and a take-over reads only the tail.

What can still be lost: records of the last moments before a machine crash or power loss (the page cache was
not on disk), and a spool on a disk that is lost or not shared with the replica that restarts. Unreadable lines
(a torn last line after such a crash) are counted as lost.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("service.store")

SPOOL_SUFFIX = ".spool"
CHECKPOINT_SUFFIX = ".checkpoint"
#: A fully written spool is truncated once it is this big: a take-over never reads more than this.
ROTATE_BYTES = 1 << 20
_CHECKPOINT_WIDTH = 20


class AuditSpool:
    """This process's append-only spool file, locked for as long as the process lives."""

    def __init__(self, path: Path, fd: int, checkpoint_fd: int) -> None:
        self.path = path
        self._fd = fd
        self._checkpoint_fd = checkpoint_fd
        self._size = 0
        self._written = 0
        self._lock = threading.Lock()

    @classmethod
    def create(cls, directory: Path) -> AuditSpool:
        """A new spool file in ``directory``, named after this host and process, locked by this process."""
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        path = directory / f"{stem}{SPOOL_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        checkpoint_fd = os.open(path.with_suffix(CHECKPOINT_SUFFIX), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        spool = cls(path, fd, checkpoint_fd)
        spool._write_checkpoint(0)
        return spool

    @property
    def lock(self) -> threading.Lock:
        """Held while appending, so the order of the lines is the order the caller queues the records in."""
        return self._lock

    def append_locked(self, line: bytes) -> int:
        """Append one line (the caller holds :attr:`lock`); returns the offset just after it.

        :raises OSError: the line could not be written (disk full, folder removed).
        """
        written = os.write(self._fd, line)
        if written != len(line):
            raise OSError(f"short write to the audit spool ({written} of {len(line)} bytes)")
        self._size += written
        return self._size

    def mark_written(self, offset: int) -> None:
        """The database holds every record up to ``offset``: move the checkpoint, truncate when all is written."""
        with self._lock:
            if offset <= self._written or offset > self._size:
                return  # an offset from before the last truncation
            self._written = offset
            if self._written == self._size and self._size >= ROTATE_BYTES:
                # Checkpoint first: killed between the two, a take-over re-reads written records (skipped as
                # already stored) rather than skipping unwritten ones.
                self._write_checkpoint(0)
                os.ftruncate(self._fd, 0)
                self._size = self._written = 0
            else:
                self._write_checkpoint(self._written)

    def close(self, *, fully_written: bool) -> None:
        """Release the file; remove it when the database holds all of it (else a later worker takes it over)."""
        with self._lock:
            if fully_written and self._written == self._size:
                self.path.unlink(missing_ok=True)
                self.path.with_suffix(CHECKPOINT_SUFFIX).unlink(missing_ok=True)
            os.close(self._checkpoint_fd)
            os.close(self._fd)

    def _write_checkpoint(self, offset: int) -> None:
        os.pwrite(self._checkpoint_fd, str(offset).rjust(_CHECKPOINT_WIDTH).encode(), 0)


def encode_record(row: dict[str, Any]) -> bytes:
    """One spool line: the invocation row as stored (patient already hashed) and its cards."""
    return orjson.dumps(row) + b"\n"


@dataclass
class Orphan:
    """A dead process's spool, locked by us until :meth:`release`: the records after its checkpoint."""

    path: Path
    fd: int
    records: list[dict[str, Any]]
    unreadable: int

    def release(self, *, remove: bool) -> None:
        if remove:
            self.path.unlink(missing_ok=True)
            self.path.with_suffix(CHECKPOINT_SUFFIX).unlink(missing_ok=True)
        os.close(self.fd)


def orphans(directory: Path, *, own: Path | None) -> Iterator[Orphan]:
    """Spools in ``directory`` whose owner is gone (their lock is free), each locked while it is handled."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SPOOL_SUFFIX}")):
        if path == own:
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # taken over and removed by another worker meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # its process is alive
        if not path.exists():
            os.close(fd)
            continue
        records, unreadable = _read_after_checkpoint(fd, path.with_suffix(CHECKPOINT_SUFFIX))
        yield Orphan(path, fd, records, unreadable)


def _read_after_checkpoint(fd: int, checkpoint: Path) -> tuple[list[dict[str, Any]], int]:
    try:
        offset = int(checkpoint.read_bytes().strip() or b"0")
    except (FileNotFoundError, ValueError):
        offset = 0
    size = os.fstat(fd).st_size
    if offset > size:
        offset = 0
    data = os.pread(fd, size - offset, offset)
    records: list[dict[str, Any]] = []
    unreadable = 0
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            unreadable += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            unreadable += 1
    return records, unreadable
