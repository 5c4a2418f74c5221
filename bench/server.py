"""The benchmark's gunicorn server (``bench.bench_app``), its CPU from /proc, memory and a checked request."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from bench.inproc import check_workload
from bench.workloads import Workload
from devtools.processes import child_pids
from devtools.processes import cpu_seconds
from devtools.processes import free_port
from devtools.processes import stop_process
from devtools.processes import wait_until_ready
from service.config import PROJECT_ROOT


@dataclasses.dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid)

    def cpu_s(self) -> float:
        """CPU seconds used so far by the master and its workers (``devtools.processes.cpu_seconds``)."""
        return cpu_seconds(self.process.pid)


@contextmanager
def bench_server(tmp: Path, *, workers: int | None, threads: int,
                 extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """``bench.bench_app`` under the production gunicorn runner, auth off, SQLite audit in ``tmp``."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CGH_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({
        "CGH_AUTH": "off",
        "CGH_PUBLIC_BASE_URL": base_url,
        "CGH_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "CGH_INSTANCE_PATH": str(tmp / "instance"),
        "CGH_AUDIT_KEY": "bench-audit-key",
    })
    env.update(extra_env or {})
    command = [sys.executable, "-m", "bench.bench_app", "--port", str(port), "--threads", str(threads)]
    if workers:
        command += ["--workers", str(workers)]
    log_path = tmp / f"gunicorn-{port}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(process, base_url, log_path)
    try:
        wait_until_ready(process, f"{base_url}/readyz", log_path, name="bench server", timeout_s=90,
                         also=server.worker_pids)
        yield server
    finally:
        stop_process(process, timeout_s=20)


def worker_memory(server: Server) -> list[dict[str, Any]]:
    """Peak RSS (VmHWM), RSS and PSS in MB of each worker of ``server``."""
    out = []
    for pid in server.worker_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue

        def field(text: str, name: str) -> float:
            match = re.search(rf"^{name}:\s+(\d+) kB", text, re.MULTILINE)
            return round(int(match.group(1)) / 1024, 1) if match else 0.0

        out.append({"pid": pid, "peak_rss_mb": field(status, "VmHWM"), "rss_mb": field(status, "VmRSS"),
                    "pss_mb": field(rollup, "Pss")})
    return out


def http_checked(server: Server, workload: Workload) -> list[str]:
    """One request through HTTP first: the load must be made of correct answers."""
    response = requests.post(f"{server.base_url}/cds-services/{workload.service}", data=workload.body,
                             headers={"Content-Type": "application/json"}, timeout=30)
    body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else None
    return [f"{workload.name} over HTTP: {p}" for p in check_workload(workload, body or {}, response.status_code)]
