"""Throughput and memory of ``cgh-cds population`` on the real-world Synthea patients repeated to 10,000 and more.

    .venv/bin/python -m bench.population_bench                  # 10,010 patients, 1 then 2 workers, + a 1,001 run
    .venv/bin/python -m bench.population_bench --patients 1400 --workers 2

The 14 Synthea transaction Bundles of ``tests/data/realworld/synthea-r4/`` are linked (symlinks, no copies) into a
temporary folder as many times as needed, and ``cgh-cds population --hook patient-view`` runs over it exactly as a
user runs it (its own process, its worker pool). Per run: wall time, patients per second, and the peak RSS of the
largest process of the run (``ru_maxrss`` of the command and its workers, read by a wrapper process so that each
run is measured alone). Memory must not grow with the number of patients: the run fails (exit 1) when the peak RSS
is over ``--rss-limit-mb`` or the largest run's peak is more than 25 % over the smallest run's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SYNTHEA_DIR = REPO_ROOT / "tests" / "data" / "realworld" / "synthea-r4"
CGH_CDS = REPO_ROOT / ".venv" / "bin" / "cgh-cds"
#: Runs the command given in argv and prints the peak RSS (KiB) of the largest process it and its workers had.
_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(usage.ru_maxrss, code, usage.ru_utime + usage.ru_stime)\n"
)


def population_folder(root: Path, patients: int) -> Path:
    """A folder of ``patients`` links to the Synthea Bundles, cycling through the 14 files."""
    files = sorted(SYNTHEA_DIR.glob("*.json"))
    folder = root / f"synthea-x{patients}"
    folder.mkdir()
    for index in range(patients):
        source = files[index % len(files)]
        (folder / f"{index:06d}-{source.name}").symlink_to(source)
    return folder


def measure(folder: Path, patients: int, workers: int, csv_path: Path) -> dict[str, float | int]:
    command = [str(CGH_CDS), "population", "--bundles", str(folder), "--hook", "patient-view", "--today",
               "2021-06-01", "--workers", str(workers), "--csv", str(csv_path), "--quiet"]
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *command], check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    peak, status, cpu = out.stdout.split()
    peak_kib, code, cpu_s = int(peak), int(status), float(cpu)
    if code != 0:
        raise SystemExit(f"cgh-cds population exited {code} (patients not evaluated): {out.stderr[-2000:]}")
    return {"patients": patients, "workers": workers, "seconds": round(elapsed, 1),
            "patients_per_s": round(patients / elapsed, 1), "cpu_ms_per_patient": round(1000 * cpu_s / patients, 1),
            "peak_rss_mb": round(peak_kib / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10_010, help="patients of the large runs (>= 10,000)")
    parser.add_argument("--workers", default="1,2", help="worker counts of the large runs, comma-separated")
    parser.add_argument("--small", type=int, default=1_001, help="patients of the memory reference run")
    parser.add_argument("--rss-limit-mb", type=float, default=250.0, help="the fixed memory bound")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="cgh-population-bench-") as tmp:
        root = Path(tmp)
        small = population_folder(root, args.small)
        large = population_folder(root, args.patients)
        workers = [int(w) for w in args.workers.split(",")]
        runs.append(measure(small, args.small, max(workers), root / "small.csv"))
        for count in workers:
            runs.append(measure(large, args.patients, count, root / f"large-{count}.csv"))
            print(json.dumps(runs[-1]), flush=True)
        figures = (root / f"large-{workers[-1]}.csv").read_text(encoding="utf-8")
    print(f"{'patients':>9} {'workers':>7} {'seconds':>8} {'patients/s':>10} {'CPU ms/patient':>14} "
          f"{'peak RSS MB':>11}")
    for run in runs:
        print(f"{run['patients']:>9} {run['workers']:>7} {run['seconds']:>8} {run['patients_per_s']:>10} "
              f"{run['cpu_ms_per_patient']:>14} {run['peak_rss_mb']:>11}")
    by_workers = {run["workers"]: run["patients_per_s"] for run in runs[1:]}
    if 1 in by_workers and 2 in by_workers:
        print(f"speed-up 2 workers vs 1: x{by_workers[2] / by_workers[1]:.2f} "
              f"(cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f})")
    print("per-recommendation figures of the last run:\n" + figures)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    peaks = [float(run["peak_rss_mb"]) for run in runs]
    flat = max(peaks) <= 1.25 * peaks[0]
    within = max(peaks) <= args.rss_limit_mb
    print(f"memory: peak {max(peaks)} MB (bound {args.rss_limit_mb} MB: {'ok' if within else 'OVER'}); "
          f"{args.small} vs {args.patients} patients: {'flat' if flat else 'GROWS'}")
    return 0 if flat and within else 1


if __name__ == "__main__":
    raise SystemExit(main())
