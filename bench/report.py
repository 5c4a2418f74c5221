"""Targets and the printed table."""

from __future__ import annotations

from typing import Any

from bench.bench_app import FLOOR_PATH
from bench.common import CONCURRENCY
from bench.common import FALLBACK_CONCURRENCY
from bench.common import FALLBACK_TIMEOUT_S
from bench.common import TARGET_CPU_VS_FLOOR
from bench.common import TARGET_FALLBACK_VS_FHIR
from bench.common import TARGET_HTTP_P99_MS
from bench.common import TARGET_HTTP_SHARE
from bench.common import TARGET_LARGE_MS
from bench.common import TARGET_RSS_MB
from bench.common import TARGET_TYPICAL_RATIO
from bench.workloads import synthea_files

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
    if results.get("http_profile"):
        from bench.http_profile import render_profile

        lines += ["", *render_profile(results["http_profile"])]
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

