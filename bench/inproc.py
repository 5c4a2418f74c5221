"""In-process section: ``orjson.loads`` + the production ``answer_hook`` against the parse alone."""

from __future__ import annotations

import dataclasses
import gc
import re
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from bench.common import PROFILES
from bench.common import Budget
from bench.common import log
from bench.common import percentile
from bench.workloads import Workload
from bench.workloads import iter_synthea
from bench.workloads import small_workload
from bench.workloads import typical_workloads

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

