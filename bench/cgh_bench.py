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

This module is the command (``main``); the sections live beside it: ``common`` (constants, budgets,
helpers), ``inproc``, ``wrk`` (the load generator), ``server`` (the benchmarked gunicorn and its CPU from /proc),
``http_load`` (load phases and the HTTP section), ``fallback``, ``report`` (targets and the table), and
``auth_load`` / ``jwt_cost`` / ``audit_cost``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.common import RESULTS
from bench.common import Budget
from bench.common import log
from bench.common import machine
from bench.fallback import fallback_section
from bench.http_load import http_section
from bench.http_load import row_problems
from bench.inproc import inproc_section
from bench.report import evaluate_targets
from bench.report import render_table
from bench.wrk import ensure_wrk


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description="cgh-cds performance benchmark")
    parser.add_argument("--quick", action="store_true", help="about a minute instead of about five")
    parser.add_argument("--only", default="inproc,http,fallback,audit,auth",
                        help="comma-separated sections: inproc, http, fallback, audit, auth (default: all)")
    parser.add_argument("--profile", action="store_true",
                        help="also write pyinstrument profiles to bench/profiles/: in-process cases, and the HTTP path "
                             "with auth off and on (bench/http_profile.py)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-install", action="store_true",
                        help="do not apt-get install wrk when it is missing (it is installed only when run as root)")
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
        wrk = ensure_wrk(may_install=not args.no_install and os.geteuid() == 0)
        log(f"  {wrk.note}")
        results["wrk"] = wrk.note
        if wrk.path is None:
            results["skipped"].append(f"http: {wrk.note}")
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
    if args.profile:
        from bench.http_profile import http_profile_section

        log("HTTP path profile (auth off, ES384, RS384) ...")
        results["http_profile"] = http_profile_section(quick=args.quick)
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
