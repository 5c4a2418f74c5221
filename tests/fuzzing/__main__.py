"""The long fuzzing run (``scripts/fuzz``): schemathesis with every check and phase against a running service.

    scripts/fuzz [--max-examples 1000] [--seed N] [--workers 2] [--phases ...] [--checks all] [--keep DIR]

The seed changes with every run (the current time) unless given, so each run explores new inputs; it is
printed, with the command, so that a failure can be replayed exactly (``--seed N``). Every failure found
becomes a regression test (``tests/unit/protocol/test_request_edges.py`` or the contract tests) before it is
fixed. A progress line every minute says which phase runs and how many cases were sent; at the end a table
gives each phase's status, scenarios, cases, failures and time (``tests/fuzzing/README.md`` keeps the
figures of past runs). Exits 1 when schemathesis reports a failure or an error, when a phase did not run to
its end, or when the service logged a traceback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.fuzzing.report import RunFigures
from tests.fuzzing.target import ALL_CHECKS
from tests.fuzzing.target import ALL_PHASES
from tests.fuzzing.target import fuzz_target
from tests.fuzzing.target import run_schemathesis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=1000, help="examples per operation (default 1000)")
    parser.add_argument("--seed", type=int, default=None, help="default: the current time (a new seed each run)")
    parser.add_argument("--workers", type=int, default=2, help="schemathesis workers (default 2)")
    parser.add_argument("--service-workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--phases", default=ALL_PHASES)
    parser.add_argument("--checks", default=ALL_CHECKS)
    parser.add_argument("--no-sandbox", action="store_true", help="leave CGH_SANDBOX off (its 404 only)")
    parser.add_argument("--paths", default=None, help="only the operations whose path matches this regex")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run's files (report, service log) here")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())

    workdir = Path(tempfile.mkdtemp(prefix="cgh-fuzz-"))
    load_before = _load()
    try:
        with fuzz_target(workdir, workers=args.service_workers, sandbox=not args.no_sandbox) as target:
            print(f"service {target.service.base_url} (CGH_AUTH=required), seed {seed}", flush=True)
            print(f"schemathesis output: {workdir / 'fuzz.txt'}; load average {load_before}", flush=True)
            run = run_schemathesis(
                target, max_examples=args.max_examples, seed=seed, checks=args.checks, phases=args.phases,
                workers=args.workers, name="fuzz", progress=_print_progress, include_path_regex=args.paths,
            )  # fmt: skip
            log = target.service.log()
        print(run.output[-6000:])
        print(f"command: {' '.join(run.command)}")
        print(f"schemathesis {run.figures.schemathesis_version}, seed {seed}, load average {load_before} -> {_load()}")
        print(run.figures.table())
        print(f"requests re-sent with a fresh token after a 401: {run.figures.reauth_count}")
        failures = len(run.figures.failures)
        print(f"seed {seed}: {run.figures.cases} test cases in {run.seconds:.0f} s, {failures} failed checks")
        tracebacks = log.count("Traceback")
        if tracebacks:
            print(f"the service logged {tracebacks} traceback(s): see {workdir}")
        if not run.figures.complete:
            print(f"incomplete: the engine stopped with {run.figures.stop_reason!r}, or a phase did not end")
        failed = not run.ok or not run.figures.complete or tracebacks > 0 or "Runtime Error" in run.output
        return 1 if failed else 0
    finally:
        if args.keep is not None:
            shutil.copytree(workdir, args.keep, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _print_progress(seconds: float, figures: RunFigures) -> None:
    print(
        f"{seconds / 60:5.1f} min: {figures.current_phase() or '-'} phase, {figures.cases:,} cases sent, "
        f"{len(figures.failures)} failed checks, load average {_load()}",
        flush=True,
    )


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
