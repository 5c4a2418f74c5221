"""Start, wait for, stop and measure local server processes: one place for ``tests/`` and ``bench/``.

``tests/servers.py`` (the service under test) and ``bench/server.py`` / ``bench/fallback.py`` (the benchmarked
gunicorn, the FHIR test server) both start processes on a free loopback port, wait for them to answer, stop them,
and read their workers from /proc.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(
    process: subprocess.Popen[bytes], ready_url: str, log_path: Path, *, name: str, timeout_s: float,
    also: Callable[[], object] = lambda: True,
) -> None:
    """Poll ``ready_url`` until it answers 200 (and ``also()`` is true).

    :raises RuntimeError: the process exited, or was not ready in ``timeout_s``; with the end of its log.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{_log_tail(log_path)}")
        try:
            if requests.get(ready_url, timeout=1).status_code == 200 and also():
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} not ready after {timeout_s}s:\n{_log_tail(log_path)}")
        time.sleep(0.2)


def stop_process(process: subprocess.Popen[Any], *, timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout_s``."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _log_tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-6000:]


def child_pids(pid: int) -> list[int]:
    """The live child processes of ``pid`` (a gunicorn master's workers), from /proc; [] if it has gone."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_ticks(pid: int, *, with_children: bool) -> int:
    """utime + stime (and cutime + cstime) of ``pid`` in clock ticks; 0 if it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 (state) is fields[0]
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of proc(5))
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks


def cpu_seconds(master_pid: int) -> float:
    """CPU seconds (user + system) used so far by ``master_pid`` and its workers, live or reaped.

    From ``/proc/<pid>/stat``: the master's utime + stime + cutime + cstime (the last two hold the workers
    it has already reaped, e.g. recycled by ``max_requests``) plus each live worker's utime + stime. The
    difference over a run, divided by the requests answered, is the server's CPU per request: unlike
    req/s, it does not move when the neighbours (or the load tool) take the cores.
    """
    master = _stat_ticks(master_pid, with_children=True)
    workers = sum(_stat_ticks(pid, with_children=False) for pid in child_pids(master_pid))
    return (master + workers) / _CLOCK_TICKS
