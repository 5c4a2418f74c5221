"""The benchmark: in-process, HTTP, FHIR fallback and memory, each figure beside a floor from the same run.

``bench/run [--quick] [--only inproc,http,fallback,audit] [--profile]`` (see ``bench/README.md``). The machine is
shared and noisy, so every figure is reported as a ratio against a floor measured in the same run, and the
floor is measured interleaved with (in-process) or right before (HTTP) what it is the floor of:

* in-process: ``orjson.loads(body)`` vs the production ``answer_hook`` from the same bytes (orjson parse,
  request validation, ``fhir.load_record``, ``pathway.evaluate``, ``render_cards``; the audit write to the
  database is replaced by a no-op so the figure is the CPU work, not SQLite's fsync);
* HTTP: ``POST /bench/floor`` (parse the body, answer ``{"cards": []}``) vs each ``/cds-services/{id}`` on
  the same gunicorn (production runner and settings: gthread, preload, one worker per core, 4 threads,
  auth off, SQLite audit), driven by ``wrk`` at a fixed concurrency on loopback;
* FHIR fallback: the same requests with ``prefetch`` removed and ``fhirServer`` pointing at the local Medplum
  test server (``tests/fhir_server``) seeded with the prefetch content;
* memory: peak RSS (``VmHWM``) and PSS of each gunicorn worker after its load.

Bounded: every loop has a run cap and a time budget; all traffic is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import requests

from bench.bench_app import FLOOR_PATH
from bench.workloads import Workload
from bench.workloads import iter_synthea
from bench.workloads import small_workload
from bench.workloads import synthea_files
from bench.workloads import typical_workloads
from service.config import PROJECT_ROOT
from tests.servers import free_port
from tests.servers import stop_process
from tests.servers import wait_until_ready

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"
PROFILES = BENCH_DIR / "profiles"
FHIR_SERVER_DIR = PROJECT_ROOT / "tests" / "fhir_server"
CONCURRENCY = 8
SEED_CHUNK = 20
#: CGH_FHIR_TIMEOUT_S for the fallback section: the Medplum in-memory test server needs ~1 s per
#: Observation search, so the production 3 s budget would turn most of the load into 412s.
FALLBACK_TIMEOUT_S = 30
#: One request at a time: the test server (one node process) manages ~1 search/s under c=8, so at c=8 every
#: fallback request waits on its queue and the figure says nothing about the service.
FALLBACK_CONCURRENCY = 1

#: Targets of issue 5 (ratios on the same machine in the same run).
TARGET_TYPICAL_RATIO = 10.0
TARGET_LARGE_MS = 100.0
TARGET_HTTP_SHARE = 0.5
TARGET_HTTP_P99_MS = 50.0
TARGET_RSS_MB = 200.0
#: Issue 13: server CPU per request of a typical hook at most 2x the floor's (auth off).
TARGET_CPU_VS_FLOOR = 2.0
#: Issue 13: the FHIR fallback of the largest Synthea patient at most 1.5x the FHIR server alone (p50).
TARGET_FALLBACK_VS_FHIR = 1.5


@dataclasses.dataclass(frozen=True)
class Budget:
    """Time and run caps; ``--quick`` scales them down to keep the whole run near a minute."""

    inproc_s: float
    inproc_runs: int
    synthea_s: float
    synthea_runs: int
    http_s: int
    http_warmup_s: int
    fallback_s: int
    synthea_limit: int | None

    @classmethod
    def for_mode(cls, quick: bool) -> Budget:
        if quick:
            return cls(inproc_s=1.5, inproc_runs=1500, synthea_s=0.5, synthea_runs=60, http_s=3, http_warmup_s=1,
                       fallback_s=5, synthea_limit=4)
        return cls(inproc_s=5.0, inproc_runs=5000, synthea_s=2.0, synthea_runs=300, http_s=8, http_warmup_s=2,
                   fallback_s=10, synthea_limit=None)


# ------------------------------------------------------------------------------------------------ helpers


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, check=False).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "git_commit": commit,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- in-process


class _NullAudit:
    """Stands in for the audit writer: ``answer_hook`` runs unchanged, minus the database write."""

    def submit(self, record: object) -> None:
        return None


@contextmanager
def inproc_runtime() -> Iterator[tuple[Any, Callable[[Workload], dict[str, Any]]]]:
    """The production app built in-process, and ``run(workload)``: orjson.loads + answer_hook."""
    from service import create_app
    from service.config import AuthMode
    from service.config import Settings
    from service.invocation import answer_hook
    from service.invocation import warm_up
    from service.services import get_service

    with tempfile.TemporaryDirectory(prefix="cgh-bench-") as tmp:
        settings = Settings(auth=AuthMode.OFF, database_url=f"sqlite:///{tmp}/bench.sqlite3",
                            instance_path=Path(tmp), audit_key="bench")
        app = create_app(settings)
        warm_up(app)
        runtime = dataclasses.replace(app.extensions["cgh_runtime"], audit=_NullAudit())
        today = date.today()

        def run(workload: Workload) -> dict[str, Any]:
            service = get_service(workload.service)
            result: dict[str, Any] = answer_hook(service, orjson.loads(workload.body), runtime, today=today,
                                                 client_iss=None)
            return result

        yield app, run


def check_workload(workload: Workload, response: dict[str, Any], status: int = 200) -> list[str]:
    """Problems with ``response`` (the fixture's expectations; a card for an injected CGH diagnosis)."""
    from service.scenarios import check_response

    if workload.scenario is not None:
        return check_response(workload.scenario, status, response)
    if status != 200:
        return [f"HTTP {status}"]
    cards = response.get("cards")
    if workload.kind.startswith("synthea") and workload.expect_cards and not cards:
        return ["no cards for a living patient with an injected confirmed CGH diagnosis"]
    if workload.kind.startswith("synthea") and not workload.expect_cards and cards:
        return ["cards for a deceased patient"]
    return []


def time_inproc(workload: Workload, run: Callable[[Workload], Any], *, budget_s: float, max_runs: int,
                min_runs: int = 20) -> dict[str, Any]:
    """p50/p95 of ``run(workload)`` and of ``orjson.loads(body)``, interleaved run by run."""
    body = workload.body
    for _ in range(3):
        run(workload)
    gc.collect()
    floor: list[float] = []
    full: list[float] = []
    floor_cpu: list[float] = []
    full_cpu: list[float] = []
    started = time.perf_counter()
    for index in range(max_runs):
        c0, t0 = time.thread_time(), time.perf_counter()
        orjson.loads(body)
        c1, t1 = time.thread_time(), time.perf_counter()
        run(workload)
        c2, t2 = time.thread_time(), time.perf_counter()
        floor.append((t1 - t0) * 1000)
        full.append((t2 - t1) * 1000)
        floor_cpu.append(c1 - c0)
        full_cpu.append(c2 - c1)
        if index + 1 >= min_runs and t2 - started > budget_s:
            break
    floor_p50, full_p50 = percentile(floor, 50), percentile(full, 50)
    return {
        "case": workload.name,
        "kind": workload.kind,
        "service": workload.service,
        "resources": workload.resources,
        "body_kb": round(workload.size_kb, 1),
        "runs": len(full),
        "p50_ms": round(full_p50, 3),
        "p95_ms": round(percentile(full, 95), 3),
        "floor_p50_ms": round(floor_p50, 4),
        "floor_p95_ms": round(percentile(floor, 95), 4),
        "ratio_p50": round(full_p50 / floor_p50, 1),
        # CPU time of this thread only: immune to the neighbours' load, a cross-check of the wall ratio.
        "cpu_ratio_p50": round(percentile(full_cpu, 50) / max(percentile(floor_cpu, 50), 1e-7), 1),
    }


def inproc_section(budget: Budget, *, profile: bool) -> tuple[list[dict[str, Any]], list[str]]:
    today = date.today()
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    typical = typical_workloads(today)
    fixture_cases = [small_workload(today), *typical.values()]
    with inproc_runtime() as (_, run):
        for workload in fixture_cases:
            problems += [f"{workload.name}: {p}" for p in check_workload(workload, run(workload))]
            rows.append(time_inproc(workload, run, budget_s=budget.inproc_s, max_runs=budget.inproc_runs))
            log(_inproc_line(rows[-1]))
        largest: list[Workload] = []
        for split, naive in iter_synthea(today, budget.synthea_limit):
            for workload in (split, naive):
                response = run(workload)
                problems += [f"{workload.name}: {p}" for p in check_workload(workload, response)]
                row = time_inproc(workload, run, budget_s=budget.synthea_s, max_runs=budget.synthea_runs,
                                  min_runs=10)
                row["cards"] = len(response.get("cards", []))
                rows.append(row)
                log(_inproc_line(row))
            if not largest:
                largest = [split, naive]
        if profile:
            profile_cases([typical["cgh-patient-view"], *largest], run)
    return rows, problems


def _inproc_line(row: dict[str, Any]) -> str:
    return (f"  in-process {row['case']:<40} p50 {row['p50_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms  "
            f"floor p50 {row['floor_p50_ms']:7.3f} ms  ratio {row['ratio_p50']:6.1f}x  ({row['runs']} runs)")


def profile_cases(workloads: Sequence[Workload], run: Callable[[Workload], Any]) -> None:
    """pyinstrument profiles of ``workloads`` into bench/profiles/ (text and HTML)."""
    from pyinstrument import Profiler

    PROFILES.mkdir(exist_ok=True)
    for workload in workloads:
        repeats = max(20, int(2000 / max(1, workload.resources)))
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(repeats):
            run(workload)
        profiler.stop()
        stem = re.sub(r"[^a-z0-9]+", "-", workload.name.lower()).strip("-")
        (PROFILES / f"{stem}.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        (PROFILES / f"{stem}.html").write_text(profiler.output_html())
        log(f"  profile: bench/profiles/{stem}.txt ({repeats} runs)")


# -------------------------------------------------------------------------------------------------- HTTP

#: POSTs the body file; counts the answers by HTTP status and prints them at the end ("STATUS <code> <count>"),
#: so a non-2xx row says which status it got.
_WRK_SCRIPT = """
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
statuses = {}
init = function(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      io.write(string.format("STATUS %d %d\\n", code, count))
    end
  end
end
"""

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def run_wrk(url: str, body_path: Path | None, script: Path | None, duration_s: int, connections: int,
            timeout_s: int = 10, server: Server | None = None) -> dict[str, Any]:
    """``wrk`` (one thread, ``connections`` connections) POSTing ``body_path`` to ``url`` (GET without one).

    With ``server``, also the server's CPU seconds over the run (``cpu_s``) and per answered request.
    """
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", f"{timeout_s}s", "--latency"]
    if body_path is not None and script is not None:
        command += ["-s", str(script), url, "--", str(body_path)]
    else:
        command += [url]
    cpu_before = server.cpu_s() if server else 0.0
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + timeout_s + 30,
                            check=True).stdout
    cpu_after = server.cpu_s() if server else 0.0
    result: dict[str, Any] = {"non_2xx": 0, "socket_errors": 0}
    result["statuses"] = {code: int(count) for code, count in re.findall(r"^STATUS (\d+) (\d+)$", output,
                                                                          re.MULTILINE)}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rps"] = float(rps.group(1)) if rps else 0.0
    total = re.search(r"(\d+) requests in", output)
    result["requests"] = int(total.group(1)) if total else 0
    for pct, key in (("50", "p50_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
        match = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", output, re.MULTILINE)
        result[key] = round(_ms(match.group(1)), 2) if match else None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        result["non_2xx"] = int(non2xx.group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if errors:
        result["socket_errors"] = sum(int(x) for x in errors.groups())
    if server is not None:
        result["cpu_s"] = round(cpu_after - cpu_before, 3)
        result["cpu_ms_per_req"] = (round(result["cpu_s"] * 1000 / result["requests"], 3)
                                    if result["requests"] else None)
    return result


def row_problems(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every non-2xx answer or socket error of a load row, with its section, row and statuses: a problem."""
    problems = []
    for row in rows:
        bad = {code: n for code, n in row.get("statuses", {}).items() if not 200 <= int(code) < 300}
        if row.get("non_2xx") or row.get("socket_errors") or bad:
            problems.append(f"{row.get('section', '?')} row '{row['case']}' ({row.get('path', '')}): "
                            f"{row.get('non_2xx', 0)} non-2xx answers, statuses {bad or row.get('statuses')}, "
                            f"{row.get('socket_errors', 0)} socket errors"
                            + (f"; {row['failure_detail']}" if row.get("failure_detail") else ""))
    return problems


def _merge_statuses(results: Sequence[dict[str, Any]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for result in results:
        for code, count in result.get("statuses", {}).items():
            merged[code] = merged.get(code, 0) + count
    return merged


def _cpu_per_request(results: Sequence[dict[str, Any]]) -> float | None:
    """Server CPU ms per request over several runs: total CPU over total requests."""
    requests_ = sum(r["requests"] for r in results)
    if not requests_ or any("cpu_s" not in r for r in results):
        return None
    return round(sum(r["cpu_s"] for r in results) * 1000 / requests_, 3)


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


@dataclasses.dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def cpu_s(self) -> float:
        """CPU seconds (user + system) used so far by the master and its workers, live or reaped.

        From ``/proc/<pid>/stat``: the master's utime + stime + cutime + cstime (the last two hold the workers
        it has already reaped, e.g. recycled by ``max_requests``) plus each live worker's utime + stime. The
        difference over a run, divided by the requests answered, is the server's CPU per request: unlike
        req/s, it does not move when the neighbours (or the load tool) take the cores.
        """
        master = _stat_ticks(self.process.pid, with_children=True)
        workers = sum(_stat_ticks(pid, with_children=False) for pid in self.worker_pids())
        return (master + workers) / _CLOCK_TICKS


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


def load_phase(server: Server, targets: Sequence[tuple[str, Workload, str]], tmp: Path, *, duration_s: int,
               warmup_s: int, section: str, timeout_s: int = 10, concurrency: int = CONCURRENCY
               ) -> list[dict[str, Any]]:
    """wrk against each (label, workload, path) in order; the floor rows are (label, workload, FLOOR_PATH)."""
    script = tmp / "post.lua"
    script.write_text(_WRK_SCRIPT)
    rows = []
    for label, workload, path in targets:
        body_path = tmp / f"body-{abs(hash(workload.body))}.json"
        body_path.write_bytes(workload.body)
        url = server.base_url + path
        warmup = run_wrk(url, body_path, script, warmup_s, concurrency, timeout_s)
        result = run_wrk(url, body_path, script, duration_s, concurrency, timeout_s, server=server)
        result["non_2xx"] += warmup["non_2xx"]  # a bad answer during warm-up is still a bad answer
        result["socket_errors"] += warmup["socket_errors"]
        result["statuses"] = _merge_statuses([warmup, result])
        row = {"section": section, "case": label, "path": path, "body_kb": round(workload.size_kb, 1),
               "concurrency": concurrency, **result}
        rows.append(row)
        log(f"  {section} {label:<40} {row['rps']:8.1f} req/s  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms"
            f"  CPU {row.get('cpu_ms_per_req')} ms/req  non-2xx {row['non_2xx']} {row['statuses']}")
    return rows


def _timed_post(session: requests.Session, url: str, body: bytes, timeout_s: int,
                statuses: dict[str, int]) -> tuple[float, int]:
    """POST ``body``; (milliseconds, 1 if it failed at the socket level); the status is counted in ``statuses``."""
    t0 = time.perf_counter()
    try:
        response = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=timeout_s)
    except requests.RequestException:
        return (time.perf_counter() - t0) * 1000, 1
    statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
    return (time.perf_counter() - t0) * 1000, 0


def sequential_phase(server: Server, targets: Sequence[tuple[str, Workload, str]], *, duration_s: int, section: str,
                     timeout_s: int) -> list[dict[str, Any]]:
    """One request at a time (c=1) to each (label, workload, path) for ``duration_s``, after one warm-up request.

    At c=1 a plain loop is the whole load tool (no concurrency to manage), and it needs no wrk; every answer's
    status is counted, and the server's CPU per request is read like the wrk rows'.
    """
    rows = []
    with requests.Session() as session:
        for label, workload, path in targets:
            url = server.base_url + path
            statuses: dict[str, int] = {}
            errors = 0
            errors += _timed_post(session, url, workload.body, timeout_s, statuses)[1]  # warm-up, still counted
            latencies: list[float] = []
            cpu_before = server.cpu_s()
            started = time.perf_counter()
            while time.perf_counter() - started < duration_s or not latencies:
                latency_ms, failed = _timed_post(session, url, workload.body, timeout_s, statuses)
                latencies.append(latency_ms)
                errors += failed
            elapsed = time.perf_counter() - started
            cpu_s = server.cpu_s() - cpu_before
            row = {"section": section, "case": label, "path": path, "body_kb": round(workload.size_kb, 1),
                   "concurrency": 1, "requests": len(latencies), "rps": round(len(latencies) / elapsed, 2),
                   "p50_ms": round(percentile(latencies, 50), 1), "p90_ms": round(percentile(latencies, 90), 1),
                   "p99_ms": round(percentile(latencies, 99), 1), "statuses": statuses,
                   "non_2xx": sum(n for code, n in statuses.items() if not code.startswith("2")),
                   "socket_errors": errors, "cpu_s": round(cpu_s, 3),
                   "cpu_ms_per_req": round(cpu_s * 1000 / len(latencies), 3)}
            rows.append(row)
            log(f"  {section} {label:<40} {row['rps']:8.2f} req/s  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms"
                f"  CPU {row['cpu_ms_per_req']} ms/req  statuses {statuses}  socket errors {errors}")
    return rows


def paired_phase(server: Server, targets: Sequence[tuple[str, Workload, str]], tmp: Path, *, duration_s: int,
                 warmup_s: int, section: str, rounds: int = 4, concurrency: int = CONCURRENCY
                 ) -> list[dict[str, Any]]:
    """Each target against the floor with the same body, in alternating short runs.

    The neighbours' load on this shared machine shifts from one run to the next (the floor alone has been seen
    at 500 and at 1,500 req/s minutes apart), so a ratio of two separate runs says little. Here every round
    measures floor then hook back to back, and the row's ``share_of_floor`` is the median of the per-round
    ratios; req/s and latencies are the medians of the hook's rounds, ``floor_rps`` the floor's.
    """
    script = tmp / "post.lua"
    script.write_text(_WRK_SCRIPT)
    slice_s = max(1, duration_s // 2)
    rows = []
    for label, workload, path in targets:
        body_path = tmp / f"body-{abs(hash(workload.body))}.json"
        body_path.write_bytes(workload.body)
        floor_url, url = server.base_url + FLOOR_PATH, server.base_url + path
        warmups = [run_wrk(floor_url, body_path, script, warmup_s, concurrency),
                   run_wrk(url, body_path, script, warmup_s, concurrency)]
        floors, hooks = [], []
        for _ in range(rounds):
            floors.append(run_wrk(floor_url, body_path, script, slice_s, concurrency, server=server))
            hooks.append(run_wrk(url, body_path, script, slice_s, concurrency, server=server))
        every = [*warmups, *floors, *hooks]
        ratios = [h["rps"] / f["rps"] for f, h in zip(floors, hooks, strict=True) if f["rps"]]
        row = {
            "section": section, "case": label, "path": path, "body_kb": round(workload.size_kb, 1),
            "concurrency": concurrency, "rounds": rounds,
            "rps": round(statistics.median(h["rps"] for h in hooks), 1),
            "p50_ms": round(statistics.median(h["p50_ms"] or 0 for h in hooks), 2),
            "p99_ms": round(statistics.median(h["p99_ms"] or 0 for h in hooks), 2),
            "non_2xx": sum(r["non_2xx"] for r in every),
            "socket_errors": sum(r["socket_errors"] for r in every),
            "statuses": _merge_statuses(every),
            "cpu_ms_per_req": _cpu_per_request(hooks),
            "floor_cpu_ms_per_req": _cpu_per_request(floors),
            "floor_rps": round(statistics.median(f["rps"] for f in floors), 1),
            "floor_p99_ms": round(statistics.median(f["p99_ms"] or 0 for f in floors), 2),
            "share_of_floor": round(statistics.median(ratios), 3) if ratios else 0.0,
            "share_per_round": [round(r, 3) for r in ratios],
        }
        rows.append(row)
        log(f"  {section} {label:<40} {row['rps']:8.1f} req/s ({row['share_of_floor']:.0%} of floor "
            f"{row['floor_rps']:.0f}; rounds {row['share_per_round']})  p50 {row['p50_ms']} ms  "
            f"p99 {row['p99_ms']} ms  CPU {row['cpu_ms_per_req']} ms/req (floor {row['floor_cpu_ms_per_req']})  "
            f"non-2xx {row['non_2xx']} {row['statuses']}")
    return rows


def attach_floor_share(rows: list[dict[str, Any]]) -> None:
    """Each non-floor row gets ``share_of_floor`` = its req/s over the latest floor row's req/s before it."""
    floor: dict[str, Any] | None = None
    for row in rows:
        if row["path"] == FLOOR_PATH:
            floor = row
            row["share_of_floor"] = 1.0
        elif floor is not None and floor["rps"]:
            row["floor_case"] = floor["case"]
            row["share_of_floor"] = round(row["rps"] / floor["rps"], 3)
            row["floor_p99_ms"] = floor["p99_ms"]


def http_section(budget: Budget) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    today = date.today()
    typical = typical_workloads(today)
    largest_split = next(iter_synthea(today, 1))[0]
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cgh-bench-http-") as tmp_name:
        tmp = Path(tmp_name)
        with bench_server(tmp, workers=None, threads=4) as server:
            for workload in [*typical.values(), largest_split]:
                problems += http_checked(server, workload)
            targets: list[tuple[str, Workload, str]] = [
                (w.name, w, f"/cds-services/{w.service}") for w in typical.values()
            ]
            targets += [(largest_split.name, largest_split, f"/cds-services/{largest_split.service}")]
            rows = paired_phase(server, targets, tmp, duration_s=budget.http_s, warmup_s=budget.http_warmup_s,
                                section="http")
            memory = worker_memory(server)
        # Diagnostic: the same patient-view with the audit write skipped (BENCH_AUDIT=off), beside its floor.
        with bench_server(tmp, workers=None, threads=4, extra_env={"BENCH_AUDIT": "off"}) as server:
            workload = typical["cgh-patient-view"]
            rows += paired_phase(server, [(f"{workload.name}, audit write skipped", workload,
                                           f"/cds-services/{workload.service}")],
                                 tmp, duration_s=budget.http_s, warmup_s=budget.http_warmup_s, section="http")
    return rows, memory, problems


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


# ------------------------------------------------------------------------------------------------ report


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts: list[dict[str, Any]] = []
    inproc = {row["case"]: row for row in results.get("inprocess", [])}
    typical = inproc.get("typical patient-view")
    if typical:
        verdicts.append({"target": f"in-process typical patient-view <= {TARGET_TYPICAL_RATIO:g}x orjson parse",
                         "measured": f"{typical['ratio_p50']}x (p50 {typical['p50_ms']} ms vs "
                                     f"{typical['floor_p50_ms']} ms)",
                         "holds": typical["ratio_p50"] <= TARGET_TYPICAL_RATIO})
    largest = next(iter(synthea_files()), None)
    label = largest.stem.rsplit("_", 1)[0] if largest else ""
    for case in (f"synthea {label}", f"synthea {label} naive") if largest else ():
        row = inproc.get(case)
        if row:
            assert largest is not None
            verdicts.append({"target": f"{case} ({largest.stat().st_size / 1e6:.1f} MB file) <= "
                                       f"{TARGET_LARGE_MS:g} ms in-process (p95)",
                             "measured": f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms",
                             "holds": row["p95_ms"] <= TARGET_LARGE_MS})
    for row in results.get("http", []):
        if row["path"] == FLOOR_PATH or "share_of_floor" not in row or "audit write skipped" in row["case"]:
            continue
        holds = row["share_of_floor"] >= TARGET_HTTP_SHARE and (row["p99_ms"] or 1e9) <= TARGET_HTTP_P99_MS
        verdicts.append({"target": f"HTTP {row['case']}: >= {TARGET_HTTP_SHARE:.0%} of floor req/s, "
                                   f"p99 <= {TARGET_HTTP_P99_MS:g} ms at c={row['concurrency']}",
                         "measured": f"{row['share_of_floor']:.0%} of floor, p99 {row['p99_ms']} ms",
                         "holds": holds and row["non_2xx"] == 0})
    for row in results.get("http", []):
        if row.get("cpu_ms_per_req") and row.get("floor_cpu_ms_per_req") and "audit write skipped" not in row["case"]:
            ratio = row["cpu_ms_per_req"] / row["floor_cpu_ms_per_req"]
            verdicts.append({"target": f"HTTP {row['case']}: server CPU/request <= {TARGET_CPU_VS_FLOOR:g}x the "
                                       "floor's (auth off)",
                             "measured": f"{row['cpu_ms_per_req']:.2f} ms vs floor {row['floor_cpu_ms_per_req']:.2f}"
                                         f" ms ({ratio:.1f}x)",
                             "holds": ratio <= TARGET_CPU_VS_FLOOR})
    if results.get("auth"):
        from bench.auth_load import evaluate_auth_targets

        verdicts += evaluate_auth_targets(results["auth"], results.get("jwt_cost", {}))
        for row in results["auth"]:
            if row["mix"] == "mix" and row["auth"] == "off":
                verdicts.append({"target": f"{row['case']}: p99 <= {TARGET_HTTP_P99_MS:g} ms at c={CONCURRENCY}",
                                 "measured": f"p99 {row['p99_ms']} ms", "holds": row["p99_ms"] <= TARGET_HTTP_P99_MS})
    for row in results.get("fallback", []):
        if row["case"].startswith("synthea") and "p50_vs_fhir_alone" in row:
            verdicts.append({"target": f"fallback {row['case']} p50 <= {TARGET_FALLBACK_VS_FHIR:g}x the FHIR server "
                                       "alone for the same searches",
                             "measured": f"{row['p50_vs_fhir_alone']}x (p50 {row['p50_ms']} ms)",
                             "holds": row["p50_vs_fhir_alone"] <= TARGET_FALLBACK_VS_FHIR})
    peaks = [w["peak_rss_mb"] for key in ("memory_http", "memory_fallback") for w in results.get(key, [])]
    if peaks:
        verdicts.append({"target": f"peak RSS <= {TARGET_RSS_MB:g} MB per worker",
                         "measured": f"max {max(peaks)} MB", "holds": max(peaks) <= TARGET_RSS_MB})
    return verdicts


def render_table(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"cgh-cds bench - {m['date']} - {m['nproc']} x {m['cpu']}, {m['memory_gb']} GB, Python {m['python']}, "
        f"commit {m['git_commit']}, mode {results['mode']}",
        "HTTP: gunicorn gthread via service.gunicorn_app.serve (preload + warm-up), "
        f"{results.get('http_workers', '?')} workers x 4 threads, CGH_AUTH=off (floor and hooks run the same "
        f"middleware), SQLite audit; wrk -t1 -c{CONCURRENCY} on 127.0.0.1 (sharing the 2 cores)",
        "",
        "In-process (orjson.loads + answer_hook, audit write stubbed) vs floor = orjson.loads of the same body",
        f"{'case':<40} {'res':>5} {'KB':>7} {'p50 ms':>9} {'p95 ms':>9} {'floor p50':>10} {'x floor':>8} "
        f"{'x cpu':>7}",
    ]
    for row in results.get("inprocess", []):
        lines.append(f"{row['case']:<40} {row['resources']:>5} {row['body_kb']:>7.1f} {row['p50_ms']:>9.2f} "
                     f"{row['p95_ms']:>9.2f} {row['floor_p50_ms']:>10.3f} {row['ratio_p50']:>8.1f} "
                     f"{row['cpu_ratio_p50']:>7.1f}")
    for key, title in (("http", "HTTP"), ("fallback", "FHIR fallback (prefetch removed, Medplum test server)")):
        if not results.get(key):
            continue
        conc = FALLBACK_CONCURRENCY if key == "fallback" else CONCURRENCY
        driver = "a request loop" if key == "fallback" else "wrk"
        lines += ["", f"{title}: {driver} c={conc}; floor = POST {FLOOR_PATH} (parse body, answer no cards)"
                  + (f"; CGH_FHIR_TIMEOUT_S={FALLBACK_TIMEOUT_S}; first rows: the FHIR server alone"
                     if key == "fallback" else ""),
                  f"{'case':<40} {'KB':>7} {'req/s':>9} {'% floor':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
                  f"{'CPU ms/req':>11} {'floor CPU':>10}"]
        for row in results[key]:
            lines.append(f"{row['case']:<40} {row['body_kb']:>7.1f} {row['rps']:>9.1f} "
                         f"{row.get('share_of_floor', 0):>8.0%} {row['p50_ms']!s:>8} {row['p99_ms']!s:>8} "
                         f"{row['non_2xx']:>8} {row.get('cpu_ms_per_req')!s:>11} "
                         f"{row.get('floor_cpu_ms_per_req', '')!s:>10}"
                         + (f"  p50 {row['p50_vs_fhir_alone']}x FHIR alone" if "p50_vs_fhir_alone" in row else "")
                         + (f"  floor {row['floor_rps']:.0f} req/s, per round {row['share_per_round']}"
                            if "share_per_round" in row else ""))
    for key in ("memory_http", "memory_fallback"):
        if results.get(key):
            lines += ["", f"Workers after load ({key.removeprefix('memory_')}): " + "; ".join(
                f"pid {w['pid']} peak RSS {w['peak_rss_mb']} MB, PSS {w['pss_mb']} MB" for w in results[key])]
    if results.get("audit"):
        from bench.audit_cost import render

        lines += ["", *render(results["audit"])]
    if results.get("jwt_cost"):
        from bench.jwt_cost import render_cost

        lines += ["", *render_cost(results["jwt_cost"])]
    if results.get("auth"):
        from bench.auth_load import render_auth

        lines += ["", *render_auth(results["auth"])]
    if results.get("targets"):
        lines += ["", "Targets:"]
        lines += [f"  [{'HOLDS' if t['holds'] else 'MISS '}] {t['target']}: {t['measured']}"
                  for t in results["targets"]]
    if results.get("problems"):
        lines += ["", "CORRECTNESS PROBLEMS (figures above are not valid):"] + [f"  - {p}" for p in
                                                                               results["problems"]]
    if results.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(results["skipped"])]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description="cgh-cds performance benchmark")
    parser.add_argument("--quick", action="store_true", help="about a minute instead of about five")
    parser.add_argument("--only", default="inproc,http,fallback,audit,auth",
                        help="comma-separated sections: inproc, http, fallback, audit, auth (default: all)")
    parser.add_argument("--profile", action="store_true",
                        help="also write pyinstrument profiles of the typical and largest cases to bench/profiles/")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    budget = Budget.for_mode(args.quick)
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "mode": "quick" if args.quick else "full",
                               "problems": [], "skipped": []}
    from service.gunicorn_app import default_workers

    results["http_workers"] = default_workers()
    if "inproc" in sections:
        log("in-process ...")
        results["inprocess"], problems = inproc_section(budget, profile=args.profile)
        results["problems"] += problems
    if "http" in sections:
        if shutil.which("wrk") is None:
            results["skipped"].append("http: wrk not installed (apt-get install -y wrk)")
        else:
            log("HTTP ...")
            results["http"], results["memory_http"], problems = http_section(budget)
            results["problems"] += problems
    if "fallback" in sections:
        log("FHIR fallback ...")
        try:
            results["fallback"], results["memory_fallback"], problems = fallback_section(budget)
            results["problems"] += problems
        except RuntimeError as error:
            results["skipped"].append(f"fallback: {error}")
    if "audit" in sections:
        from bench.audit_cost import audit_section

        log("audit cost ...")
        results["audit"] = audit_section(quick=args.quick)
    if "auth" in sections:
        from bench.auth_load import auth_section
        from bench.auth_load import postgres_url
        from bench.jwt_cost import jwt_cost_section

        log("JWT cost in isolation ...")
        results["jwt_cost"] = jwt_cost_section(quick=args.quick, postgres_url=postgres_url())
        if importlib.util.find_spec("locust") is None:
            results["skipped"].append("auth: locust not installed (scripts/bootstrap with the bench extra)")
        else:
            log("production-like load (auth on, mixed hooks) ...")
            results["auth"], problems = auth_section(quick=args.quick, jwt_cost=results["jwt_cost"])
            results["problems"] += problems
    for key in ("http", "fallback", "auth"):
        results["problems"] += row_problems(results.get(key, []))
    results["targets"] = evaluate_targets(results)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    args.out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(render_table(results))
    print(f"\n(elapsed {results['elapsed_s']} s; results in {args.out})")
    return 1 if results["problems"] else 0
