"""Start the real service (``cgh-cds serve``: gunicorn) as a subprocess on a free loopback port, for tests.

``free_port``, ``wait_until_ready`` and ``stop_process`` are also the process helpers of ``bench/cgh_bench.py``
(one place for both).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "cgh-cds"


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


@dataclass
class RunningService:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's (``process``) child processes, from /proc."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


@contextmanager
def running_service(
    tmp_path: Path, env: dict[str, str] | None = None, *, workers: int = 2, ready_timeout: float = 60.0,
    args: Sequence[str] = (),
    cli: Path = CLI,
    cwd: Path = REPO_ROOT,
) -> Iterator[RunningService]:
    """``cgh-cds serve [args]`` with ``env`` on top of a clean CGH_* environment; stopped (SIGTERM) on exit.

    No drain on SIGTERM (``CGH_DRAIN_S=0``) unless ``env`` sets one: tests stop at once. ``cli`` and ``cwd``
    default to this checkout's command, run from the repository (the wheel test passes the command of a fresh
    venv and a folder outside the repository).
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CGH_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    full_env.update(
        {
            "CGH_AUTH": "off",
            "CGH_PUBLIC_BASE_URL": base_url,
            "CGH_DATABASE_URL": f"sqlite:///{tmp_path / 'service.sqlite3'}",
            "CGH_INSTANCE_PATH": str(tmp_path / "instance"),
            "CGH_AUDIT_KEY": "integration-test-key",
            "CGH_DRAIN_S": "0",
        }
    )
    full_env.update(env or {})
    full_env["CGH_PUBLIC_BASE_URL"] = full_env["CGH_PUBLIC_BASE_URL"].replace("{port}", str(port))
    log_path = tmp_path / f"serve-{port}.log"
    if not full_env["CGH_DATABASE_URL"].startswith("sqlite"):
        # As a deployment does: the schema moves once, before the service starts (serve refuses an old one).
        subprocess.run([str(CLI), "db", "upgrade"], cwd=REPO_ROOT, env=full_env, check=True, capture_output=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *args],
            cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
    service = RunningService(base_url, process, log_path)
    try:
        wait_until_ready(process, f"{base_url}/readyz", log_path, name="cgh-cds serve", timeout_s=ready_timeout)
        yield service
    finally:
        stop_process(process, timeout_s=20)
