"""FHIR-fallback section: the Medplum test server, seeded; the service's searches straight to it as floor."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import requests

from bench.bench_app import FLOOR_PATH
from bench.common import BENCH_DIR
from bench.common import FALLBACK_TIMEOUT_S
from bench.common import FHIR_SERVER_DIR
from bench.common import SEED_CHUNK
from bench.common import Budget
from bench.common import log
from bench.common import percentile
from bench.http_load import attach_floor_share
from bench.http_load import row_problems
from bench.http_load import sequential_phase
from bench.server import bench_server
from bench.server import http_checked
from bench.server import worker_memory
from bench.workloads import Workload
from bench.workloads import iter_synthea
from bench.workloads import typical_workloads
from devtools.processes import stop_process
from service.config import PROJECT_ROOT

# ---------------------------------------------------------------------------------------------- fallback


@dataclasses.dataclass
class FhirServer:
    process: subprocess.Popen[str]
    base_url: str


@contextmanager
def fhir_test_server(log_path: Path | None = None) -> Iterator[FhirServer]:
    """The Medplum in-memory FHIR server of ``tests/fhir_server`` on a free loopback port (stderr to ``log_path``)."""
    node = shutil.which("node")
    if node is None or not (FHIR_SERVER_DIR / "node_modules").is_dir():
        raise RuntimeError("the FHIR test server needs node and tests/fhir_server/node_modules "
                           "(scripts/install-fhir-server or `npm ci` in tests/fhir_server)")
    with (log_path.open("wb") if log_path else open(os.devnull, "wb")) as err:
        process = subprocess.Popen([node, "server.mjs", "--port", "0", "--host", "127.0.0.1"], cwd=FHIR_SERVER_DIR,
                                   stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "READY http://host:port/fhir" (blocks until ready or exit)
        if not line.startswith("READY "):
            raise RuntimeError(f"FHIR test server did not start: {line!r}")
        yield FhirServer(process, line.split()[1])
    finally:
        stop_process(process, timeout_s=10)


_URN = re.compile(r'"urn:uuid:([0-9a-fA-F-]{36})"')


def seed(fhir: FhirServer, resources: Sequence[dict[str, Any]]) -> None:
    """PUT ``resources`` with their ids in one transaction; ``urn:uuid:`` references become ``Type/id``."""
    types = {r["id"]: r["resourceType"] for r in resources}
    text = orjson.dumps(list(resources)).decode()
    text = _URN.sub(lambda m: f'"{types[m.group(1)]}/{m.group(1)}"' if m.group(1) in types else m.group(0), text)
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in json.loads(text)]
    with requests.Session() as session:
        for start in range(0, len(entries), SEED_CHUNK):  # Medplum caps the updates per transaction
            response = session.post(fhir.base_url, json={"resourceType": "Bundle", "type": "transaction",
                                                         "entry": entries[start:start + SEED_CHUNK]}, timeout=120)
            if response.status_code >= 400:
                raise RuntimeError(f"seeding the FHIR test server failed: HTTP {response.status_code} "
                                   f"{response.text[:500]}")


def direct_fetch_floor(fhir: FhirServer, workload: Workload, duration_s: int, label: str) -> dict[str, Any]:
    """Rounds of the service's fallback searches for ``workload``'s patient, straight to ``fhir``.

    The same searches the service sends (``fallback_query``: the templates with the fallback's page size), the
    six in parallel, each following its ``next`` links one page after the other: the FHIR server's own time.
    """
    from concurrent.futures import ThreadPoolExecutor

    from service.fhir import PREFETCH_TEMPLATES
    from service.fhir import fallback_query
    from service.fhir.client import next_link

    urls = [f"{fhir.base_url}/{fallback_query(t, workload.request['context'])}" for t in PREFETCH_TEMPLATES.values()]

    def search(session: requests.Session, url: str) -> int:
        pages = 0
        next_url: str | None = url
        while next_url is not None:
            try:
                response = session.get(next_url, timeout=FALLBACK_TIMEOUT_S)
            except requests.ConnectionError:
                # The keep-alive race the service's FHIR client also retries once (service/fhir/client.py).
                response = session.get(next_url, timeout=FALLBACK_TIMEOUT_S)
            if response.status_code != 200:
                raise RuntimeError(f"FHIR test server answered {response.status_code} to {next_url}")
            pages += 1
            next_url = next_link(response.json())
        return pages

    latencies: list[float] = []
    pages: list[int] = []
    with requests.Session() as session, ThreadPoolExecutor(max_workers=len(urls)) as pool:
        started = time.perf_counter()
        while time.perf_counter() - started < duration_s or not latencies:
            t0 = time.perf_counter()
            pages = list(pool.map(lambda url: search(session, url), urls))
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
    return {"section": "fallback", "case": label, "path": "(direct)",
            "body_kb": 0.0, "concurrency": 1, "rps": round(len(latencies) / elapsed, 2),
            "requests": len(latencies), "pages": sum(pages), "p50_ms": round(percentile(latencies, 50), 1),
            "p90_ms": round(percentile(latencies, 90), 1), "p99_ms": round(percentile(latencies, 99), 1),
            "non_2xx": 0, "socket_errors": 0}


def fallback_section(budget: Budget) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    today = date.today()
    typical = typical_workloads(today)
    largest_split = next(iter_synthea(today, 1))[0]
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cgh-bench-fallback-") as tmp_name, \
            fhir_test_server(Path(tmp_name) / "fhir-server.log") as fhir:
        tmp = Path(tmp_name)
        sources = [*typical.values(), largest_split]
        for workload in sources:
            seed(fhir, workload.server_resources)
        fallback = [w.without_prefetch(fhir.base_url) for w in sources]
        # The FHIR server's own speed bounds this section: the service's searches for the typical patient-view
        # and for the largest patient, issued in parallel straight to it (what the fallback does), as floors.
        direct_rows = {
            "typical": direct_fetch_floor(fhir, typical["cgh-patient-view"], budget.fallback_s,
                                          "FHIR server alone: typical patient's searches"),
            "largest": direct_fetch_floor(fhir, largest_split, budget.fallback_s,
                                          f"FHIR server alone: {largest_split.name}'s searches"),
        }
        for direct_row in direct_rows.values():
            log(f"  fallback {direct_row['case']:<40} {direct_row['rps']:8.1f} req/s  p50 {direct_row['p50_ms']} ms"
                f"  ({direct_row['pages']} pages)")
        env = {"CGH_FHIR_TIMEOUT_S": str(FALLBACK_TIMEOUT_S)}
        with bench_server(tmp, workers=None, threads=4, extra_env=env) as server:
            for workload in fallback:
                problems += http_checked(server, workload)
            targets: list[tuple[str, Workload, str]] = [("floor (fallback body)", fallback[0], FLOOR_PATH)]
            targets += [(w.name, w, f"/cds-services/{w.service}") for w in fallback]
            rows = sequential_phase(server, targets, duration_s=budget.fallback_s, section="fallback",
                                    timeout_s=FALLBACK_TIMEOUT_S)
            memory = worker_memory(server)
        if row_problems(rows):
            # Keep the evidence: the service's log says why it answered non-2xx (a 412 names the FHIR
            # server's failure), the FHIR test server's own log says whether it failed.
            problems += keep_logs("fallback", {"service": server.log_path, "fhir-server": tmp / "fhir-server.log"})
    attach_floor_share(rows)
    for row in rows:
        direct_row = direct_rows["largest" if row["case"].startswith("synthea") else "typical"]
        if row["path"] != FLOOR_PATH and row["p50_ms"] and direct_row["p50_ms"]:
            row["p50_vs_fhir_alone"] = round(row["p50_ms"] / direct_row["p50_ms"], 2)
    return [*direct_rows.values(), *rows], memory, problems


LOGS = BENCH_DIR / "logs"


def keep_logs(section: str, logs: dict[str, Path]) -> list[str]:
    """Copy ``logs`` to bench/logs/ and return one problem line quoting the service's warnings and errors."""
    LOGS.mkdir(exist_ok=True)
    kept, reasons = [], []
    for name, path in logs.items():
        if not path.exists():
            continue
        target = LOGS / f"{section}-{name}.log"
        shutil.copyfile(path, target)
        kept.append(str(target.relative_to(PROJECT_ROOT)))
        for line in path.read_text(errors="replace").splitlines():
            if '"WARNING"' in line or '"ERROR"' in line or re.search(r'" [45]\d\d \d', line):
                reasons.append(f"{name}: {line[:300]}")
    return [f"{section}: logs kept in {', '.join(kept)}; last warnings/non-2xx lines: " + " | ".join(reasons[-6:])]

