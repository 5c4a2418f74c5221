"""Constants, run budgets and small helpers shared by the benchmark's sections."""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from service.config import PROJECT_ROOT

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

