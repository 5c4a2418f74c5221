"""Production-like load: auth required, a fresh ES384 / RS384 client JWT per request, the four hooks mixed.

``bench/run --only auth`` (part of the default run). For each store (SQLite; PostgreSQL when
``CGH_BENCH_DATABASE_URL`` or ``CGH_TEST_DATABASE_URL`` is set), on the production gunicorn runner:

* server A, ``CGH_AUTH=off``: the floor (``POST /bench/floor`` with the same four bodies) and the mix;
* server B, ``CGH_AUTH=required`` with one trusted client holding an ES384 and an RS384 key: the mix signed with
  ES384, then with RS384 (``bench/locustfile.py``: locust + PyJWT, one new token per request).

Each row: req/s, p50, p99 (locust, ``CONCURRENCY`` users, no think time), any failure with its status, and the
server's CPU per request (master + workers, ``/proc/<pid>/stat``). Beside them, the isolated costs of
``bench.jwt_cost`` give the share of a request's CPU spent on JWT verification and on the replay insert.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization

from bench.bench_app import FLOOR_PATH
from bench.common import CONCURRENCY
from bench.common import log
from bench.inproc import check_workload
from bench.jwt_cost import ALGORITHMS
from bench.jwt_cost import ISS
from bench.jwt_cost import ClientKey
from bench.server import Server
from bench.server import bench_server
from bench.workloads import Workload
from bench.workloads import typical_workloads
from service.config import PROJECT_ROOT

LOCUSTFILE = PROJECT_ROOT / "bench" / "locustfile.py"

#: Targets of issue 13, on server CPU per request for the typical hooks (the mix).
TARGET_CPU_VS_FLOOR = 2.0


def postgres_url() -> str | None:
    return os.environ.get("CGH_BENCH_DATABASE_URL") or os.environ.get("CGH_TEST_DATABASE_URL") or None


def run_locust(server: Server, manifest: Path, tmp: Path, *, label: str, duration_s: int,
               env_extra: dict[str, str]) -> dict[str, Any]:
    """Locust headless against ``server``; req/s, p50, p99, failures (by status) and server CPU per request."""
    prefix = tmp / f"locust-{abs(hash(label))}"
    status_file = Path(f"{prefix}-statuses.json")
    env = {**os.environ, "BENCH_MANIFEST": str(manifest), "BENCH_STATUS_FILE": str(status_file), **env_extra}
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(CONCURRENCY),
               "-r", str(CONCURRENCY), "-t", f"{duration_s}s", "--host", server.base_url,
               "--json-file", str(prefix), "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"]
    cpu_before = server.cpu_s()
    started = time.monotonic()
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                               timeout=duration_s + 120, check=False)
    elapsed = time.monotonic() - started
    cpu_s = server.cpu_s() - cpu_before
    stats_path = Path(f"{prefix}.json")
    if not stats_path.exists() or not status_file.exists():
        raise RuntimeError(f"locust wrote no statistics (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    entries: list[dict[str, Any]] = json.loads(stats_path.read_text())
    total = sum(int(e["num_requests"]) for e in entries)
    if not total:
        raise RuntimeError(f"locust sent no request in {duration_s} s (exit {completed.returncode}):\n"
                           f"{completed.stderr[-3000:]}")
    # Locust keeps response times as a histogram of rounded milliseconds; merge the hooks' and read it.
    histogram: dict[float, int] = {}
    for entry in entries:
        for bucket, count in entry["response_times"].items():
            histogram[float(bucket)] = histogram.get(float(bucket), 0) + int(count)
    span_s = max(e["last_request_timestamp"] for e in entries) - min(e["start_time"] for e in entries)
    statuses: dict[str, int] = json.loads(status_file.read_text())
    bad = {key: count for key, count in statuses.items() if not key.endswith(": 200")}
    failures = sum(int(e["num_failures"]) for e in entries)
    return {
        "requests": total,
        "rps": round(total / span_s, 1) if span_s > 0 else 0.0,
        "p50_ms": _histogram_percentile(histogram, 50),
        "p99_ms": _histogram_percentile(histogram, 99),
        "non_2xx": max(failures, sum(bad.values())),
        "socket_errors": 0,
        "failure_statuses": bad,
        "failure_detail": "; ".join(f"{k} x{v}" for k, v in bad.items()),
        "cpu_s": round(cpu_s, 3),
        # Includes locust's start-up and the users' stop (the server idles then), not the requests' cost.
        "cpu_ms_per_req": round(cpu_s * 1000 / total, 3) if total else None,
        "locust_wall_s": round(elapsed, 1),
    }


def _histogram_percentile(histogram: dict[float, int], q: float) -> float:
    """Nearest-rank percentile of a {value: count} histogram."""
    total = sum(histogram.values())
    rank = max(1, round(q / 100 * total + 0.5))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


def _checked_with_auth(server: Server, workload: Workload, key: ClientKey | None) -> list[str]:
    path = f"/cds-services/{workload.service}"
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key.mint(server.base_url + path)}"
    response = requests.post(server.base_url + path, data=workload.body, headers=headers, timeout=30)
    body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else None
    alg = key.alg if key else "auth off"
    return [f"auth {workload.name} ({alg}) over HTTP: {p}"
            for p in check_workload(workload, body or {}, response.status_code)]


def _write_manifest(tmp: Path, workloads: Sequence[Workload], *, floor: bool) -> Path:
    entries = []
    for workload in workloads:
        body_file = tmp / f"body-{workload.service}.json"
        body_file.write_bytes(workload.body)
        entries.append({"name": f"floor ({workload.service} body)" if floor else workload.service,
                        "path": FLOOR_PATH if floor else f"/cds-services/{workload.service}",
                        "body_file": str(body_file)})
    manifest = tmp / ("manifest-floor.json" if floor else "manifest-hooks.json")
    manifest.write_text(json.dumps(entries))
    return manifest


def auth_section(*, quick: bool, jwt_cost: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of the production-like load for each store, and any correctness problem."""
    duration_s = 4 if quick else 10
    workloads = list(typical_workloads(date.today()).values())
    keys = {alg: ClientKey(alg) for alg in ALGORITHMS}
    stores = [("sqlite", None)]
    if postgres_url():
        stores.append(("postgresql", postgres_url()))
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cgh-bench-auth-") as tmp_name:
        tmp = Path(tmp_name)
        clients = tmp / "trusted-clients.json"
        clients.write_text(json.dumps([{"iss": ISS, "jwks": {"keys": [k.public_jwk for k in keys.values()]}}]))
        key_env: dict[str, dict[str, str]] = {}
        for alg, key in keys.items():
            pem = tmp / f"{alg}.pem"
            pem.write_bytes(key.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
            key_env[alg] = {"BENCH_JWT_ALG": alg, "BENCH_JWT_KEY": str(pem), "BENCH_JWT_KID": key.kid,
                            "BENCH_JWT_ISS": ISS}
        floor_manifest = _write_manifest(tmp, workloads, floor=True)
        hooks_manifest = _write_manifest(tmp, workloads, floor=False)
        for store, url in stores:
            store_env = {"CGH_DATABASE_URL": url} if url else {}
            for auth in ("off", "required"):
                env = {**store_env, "CGH_AUTH": auth}
                if auth == "required":
                    env["CGH_TRUSTED_CLIENTS"] = str(clients)
                with bench_server(tmp, workers=None, threads=4, extra_env=env) as server:
                    aud_env = {"BENCH_AUDIENCE_BASE": server.base_url}
                    cases: list[tuple[str, Path, str, dict[str, str]]] = []
                    if auth == "off":
                        for workload in workloads:
                            problems += _checked_with_auth(server, workload, None)
                        cases += [("floor", floor_manifest, "off", {}), ("mix", hooks_manifest, "off", {})]
                    else:
                        for workload in workloads:
                            for key in keys.values():
                                problems += _checked_with_auth(server, workload, key)
                        cases += [("mix", hooks_manifest, alg, key_env[alg]) for alg in ALGORITHMS]
                    for case, manifest, alg, extra in cases:
                        label = f"{store} {case} auth {alg}"
                        run_locust(server, manifest, tmp, label=f"{label} warm-up", duration_s=2,
                                   env_extra={**extra, **aud_env})
                        result = run_locust(server, manifest, tmp, label=label, duration_s=duration_s,
                                            env_extra={**extra, **aud_env})
                        row = {"section": "auth", "case": label, "store": store, "mix": case, "auth": alg,
                               "path": FLOOR_PATH if case == "floor" else "/cds-services/* (4 hooks)",
                               "concurrency": CONCURRENCY, **result}
                        rows.append(row)
                        log(f"  auth {label:<36} {row['rps']:8.1f} req/s  p50 {row['p50_ms']} ms  "
                            f"p99 {row['p99_ms']} ms  CPU {row['cpu_ms_per_req']} ms/req  "
                            f"failures {row['non_2xx']} {row['failure_statuses']}")
    attach_shares(rows, jwt_cost)
    return rows, problems


def attach_shares(rows: list[dict[str, Any]], jwt_cost: dict[str, Any]) -> None:
    """Per auth-on row: share of its CPU per request in verify() and in the replay insert; the auth-off delta."""
    verification = {row["alg"]: row for row in jwt_cost.get("verification", [])}
    replay = {row["store"]: row for row in jwt_cost.get("replay", [])}
    for row in rows:
        if row["auth"] == "off" or not row.get("cpu_ms_per_req"):
            continue
        cpu_us = row["cpu_ms_per_req"] * 1000
        cost = verification.get(row["auth"])
        if cost:
            row["verify_cpu_us"] = cost["verify_cpu_us"]
            row["signature_cpu_us"] = cost["signature_cpu_us"]
            row["verify_share"] = round(cost["verify_cpu_us"] / cpu_us, 3)
        insert = replay.get(row["store"])
        if insert:
            row["replay_cpu_us"] = insert["cpu_p50_us"]
            row["replay_share"] = round(insert["cpu_p50_us"] / cpu_us, 3)
        off = next((r for r in rows if r["store"] == row["store"] and r["mix"] == "mix" and r["auth"] == "off"),
                   None)
        if off and off.get("cpu_ms_per_req"):
            row["auth_cpu_delta_us"] = round(cpu_us - off["cpu_ms_per_req"] * 1000, 1)


def evaluate_auth_targets(rows: Sequence[dict[str, Any]], jwt_cost: dict[str, Any]) -> list[dict[str, Any]]:
    """CPU per request of the mix <= 2x the floor's (auth off), <= 2x (floor + signature alone) with auth on."""
    signature = {row["alg"]: row["signature_cpu_us"] / 1000 for row in jwt_cost.get("verification", [])}
    verdicts = []
    for row in rows:
        if row["mix"] != "mix" or not row.get("cpu_ms_per_req"):
            continue
        floor = next((r for r in rows if r["store"] == row["store"] and r["mix"] == "floor"), None)
        if not floor or not floor.get("cpu_ms_per_req"):
            continue
        bound = floor["cpu_ms_per_req"] + (signature.get(row["auth"], 0.0) if row["auth"] != "off" else 0.0)
        limit = TARGET_CPU_VS_FLOOR * bound
        what = "floor" if row["auth"] == "off" else f"(floor + {row['auth']} signature alone)"
        verdicts.append({"target": f"server CPU/request, {row['case']} <= {TARGET_CPU_VS_FLOOR:g}x {what}",
                         "measured": f"{row['cpu_ms_per_req']:.2f} ms vs {limit:.2f} ms "
                                     f"({row['cpu_ms_per_req'] / bound:.1f}x)",
                         "holds": row["cpu_ms_per_req"] <= limit})
    return verdicts


def render_auth(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [f"Production-like load (locust + PyJWT, {CONCURRENCY} users, no think time, four typical hooks "
             "round-robin, fresh JWT per request); CPU = server master + workers per request",
             f"{'case':<36} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>11} {'verify %':>9} "
             f"{'replay %':>9} {'auth +us':>9} {'fail':>5}"]
    for row in rows:
        verify = f"{row['verify_share']:.0%}" if "verify_share" in row else "-"
        replay = f"{row['replay_share']:.0%}" if "replay_share" in row else "-"
        delta = f"{row['auth_cpu_delta_us']:.0f}" if "auth_cpu_delta_us" in row else "-"
        lines.append(f"{row['case']:<36} {row['rps']:>8.1f} {row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} "
                     f"{row['cpu_ms_per_req'] or 0:>11.3f} {verify:>9} {replay:>9} {delta:>9} {row['non_2xx']:>5}")
    return lines
