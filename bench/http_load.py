"""HTTP section: load phases (wrk at c=8, paired with the floor; a request loop at c=1) and their rows."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import requests

from bench.bench_app import FLOOR_PATH
from bench.common import CONCURRENCY
from bench.common import Budget
from bench.common import log
from bench.common import percentile
from bench.server import Server
from bench.server import bench_server
from bench.server import http_checked
from bench.server import worker_memory
from bench.workloads import Workload
from bench.workloads import iter_synthea
from bench.workloads import typical_workloads
from bench.wrk import WRK_SCRIPT
from bench.wrk import run_wrk


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

def load_phase(server: Server, targets: Sequence[tuple[str, Workload, str]], tmp: Path, *, duration_s: int,
               warmup_s: int, section: str, timeout_s: int = 10, concurrency: int = CONCURRENCY
               ) -> list[dict[str, Any]]:
    """wrk against each (label, workload, path) in order; the floor rows are (label, workload, FLOOR_PATH)."""
    script = tmp / "post.lua"
    script.write_text(WRK_SCRIPT)
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
    script.write_text(WRK_SCRIPT)
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

