"""Start the real service (``cgh-cds serve``: gunicorn) as a subprocess on a free loopback port, for tests.

The process helpers (free port, readiness, stop, workers from /proc) are ``devtools.processes``, shared with
``bench/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import child_pids
from devtools.processes import free_port
from devtools.processes import stop_process
from devtools.processes import wait_until_ready

REPO_ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "cgh-cds"


@dataclass
class RunningService:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's (``process``) child processes, from /proc."""
        return child_pids(self.process.pid)


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
