"""Where a hook request's CPU goes on the HTTP path, auth off and on (``bench/run --profile``, or alone).

``python -m bench.http_profile [--requests N] [--hook cgh-patient-view]`` builds the benchmark app in-process
(``bench.bench_app``: the production app, its middleware, orjson JSON, spooled audit writer), sends the typical
request through Flask's test client (the WSGI app gunicorn calls, without the socket) with ``CGH_AUTH=off`` and
with ``CGH_AUTH=required`` and a fresh ES384 / RS384 client JWT per request, and reports for each:

* the request thread's CPU per request for the floor (``POST /bench/floor``, same body) and for the hook;
* the CPU per request of the other threads (the audit writer's batched inserts);
* pyinstrument's share of the hook requests' time per part of the path (the parts below, each counted once
  however deep it sits), and the full profile in ``bench/profiles/http-<auth>-<hook>.txt``.

The figures are the profile behind the CPU-per-request targets of issue 13 (``bench/README.md``): what the hook
adds to the floor, part by part.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from bench.bench_app import FLOOR_PATH
from bench.common import PROFILES
from bench.common import log
from bench.jwt_cost import ALGORITHMS
from bench.jwt_cost import ISS
from bench.jwt_cost import ClientKey
from bench.workloads import typical_workloads

#: The parts of a hook request, by function name (the first frame of that name on a stack counts).
PARTS: dict[str, str] = {
    "wsgi_app": "whole request (Flask WSGI app)",
    "verify": "TokenVerifier.verify (auth)",
    "decode_complete": "  JWT parse (PyJWT)",
    "claim_jti": "  replay-cache insert",
    "read_json_body": "read_json_body (orjson parse of the body)",
    "answer_hook": "answer_hook (the hook)",
    "parse_hook_request": "  request validation (marshmallow)",
    "load_record": "  load_record (FHIR data -> record)",
    "evaluate": "  pathway.evaluate",
    "render_cards": "  render_cards",
    "submit": "  audit submit (row, spool line)",
    "jsonify": "JSON response (orjson)",
}

_ENV_KEYS = ("CGH_AUTH", "CGH_TRUSTED_CLIENTS", "CGH_DATABASE_URL", "CGH_INSTANCE_PATH", "CGH_AUDIT_KEY",
             "CGH_PUBLIC_BASE_URL")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in _ENV_KEYS}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _shares(root: Any) -> dict[str, float]:
    """Seconds per part of :data:`PARTS` in pyinstrument's frame tree (outermost frame of each name)."""
    seconds = dict.fromkeys(PARTS, 0.0)

    def walk(frame: Any, inside: frozenset[str]) -> None:
        name = frame.function
        if name in PARTS and name not in inside:
            seconds[name] += frame.time
            inside = inside | {name}
        for child in frame.children:
            walk(child, inside)

    if root is not None:
        walk(root, frozenset())
    return seconds


def profile_auth_mode(auth: str, hook: str, requests: int, tmp: Path) -> dict[str, Any]:
    """Floor and hook CPU per request, and the hook's profile, for ``auth`` (``off``, ``ES384`` or ``RS384``)."""
    from pyinstrument import Profiler

    from bench.bench_app import create_bench_app

    workload = typical_workloads(date.today())[hook]
    env = {"CGH_AUTH": "off", "CGH_DATABASE_URL": f"sqlite:///{tmp / f'profile-{auth}.sqlite3'}",
           "CGH_INSTANCE_PATH": str(tmp / f"instance-{auth}"), "CGH_AUDIT_KEY": "bench-audit-key",
           "CGH_PUBLIC_BASE_URL": "http://localhost"}
    key = ClientKey(auth) if auth in ALGORITHMS else None
    if key is not None:
        clients = tmp / f"trusted-clients-{auth}.json"
        clients.write_text(json.dumps([{"iss": ISS, "jwks": {"keys": [key.public_jwk]}}]))
        env.update({"CGH_AUTH": "required", "CGH_TRUSTED_CLIENTS": str(clients)})
    with _environment(env):
        app = create_bench_app()
    client = app.test_client()
    runtime = app.extensions["cgh_runtime"]
    hook_path = f"/cds-services/{workload.service}"

    def send(path: str, count: int) -> None:
        for _ in range(count):
            headers = {"Content-Type": "application/json"}
            if key is not None:
                headers["Authorization"] = f"Bearer {key.mint('http://localhost' + path)}"
            response = client.post(path, data=workload.body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}: {response.get_data(as_text=True)}")

    def cpu_per_request(path: str) -> tuple[float, float]:
        """(request thread, other threads) CPU ms per request; the audit queue is flushed inside the window."""
        send(path, 20)
        runtime.audit.flush()
        process0, thread0 = time.process_time(), time.thread_time()
        send(path, requests)
        runtime.audit.flush()
        process1, thread1 = time.process_time(), time.thread_time()
        thread_ms = (thread1 - thread0) * 1000 / requests
        return thread_ms, (process1 - process0) * 1000 / requests - thread_ms

    floor_ms, floor_other_ms = cpu_per_request(FLOOR_PATH)
    hook_ms, hook_other_ms = cpu_per_request(hook_path)
    # Token minting is the client's work: in the profile it is outside wsgi_app, so the shares exclude it.
    profiler = Profiler(interval=0.0002)
    profiler.start()
    send(hook_path, requests)
    profiler.stop()
    runtime.audit.close()
    session = profiler.last_session
    seconds = _shares(session.root_frame() if session else None)
    whole = seconds["wsgi_app"] or 1.0
    PROFILES.mkdir(exist_ok=True)
    text_path = PROFILES / f"http-{auth.lower()}-{hook}.txt"
    text_path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return {
        "auth": auth, "hook": hook, "requests": requests,
        "floor_cpu_ms": round(floor_ms, 3), "floor_other_threads_ms": round(floor_other_ms, 3),
        "hook_cpu_ms": round(hook_ms, 3), "hook_other_threads_ms": round(hook_other_ms, 3),
        "ratio_vs_floor": round((hook_ms + hook_other_ms) / max(floor_ms + floor_other_ms, 1e-9), 2),
        "shares": {PARTS[name]: round(value / whole, 3) for name, value in seconds.items() if value},
        "profile": str(text_path),
    }


def http_profile_section(*, quick: bool, hook: str = "cgh-patient-view") -> list[dict[str, Any]]:
    requests = 150 if quick else 400
    rows = []
    with tempfile.TemporaryDirectory(prefix="cgh-bench-profile-") as tmp_name:
        for auth in ("off", *ALGORITHMS):
            row = profile_auth_mode(auth, hook, requests, Path(tmp_name))
            log(f"  profile {hook} auth {auth}: floor {row['floor_cpu_ms']} ms, hook {row['hook_cpu_ms']} ms "
                f"+ {row['hook_other_threads_ms']} ms other threads ({row['ratio_vs_floor']}x)")
            rows.append(row)
    return rows


def render_profile(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = ["HTTP path profile (Flask test client in-process; CPU ms per request: request thread + other threads;"
             " shares of the hook request's time, pyinstrument)"]
    for row in rows:
        lines.append(f"  {row['hook']} auth {row['auth']}: floor {row['floor_cpu_ms']:.2f} + "
                     f"{row['floor_other_threads_ms']:.2f} ms, hook {row['hook_cpu_ms']:.2f} + "
                     f"{row['hook_other_threads_ms']:.2f} ms ({row['ratio_vs_floor']}x); {row['profile']}")
        lines += [f"      {share:6.1%}  {part}" for part, share in row["shares"].items()]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_profile")
    parser.add_argument("--hook", default="cgh-patient-view")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print("\n".join(render_profile(http_profile_section(quick=args.quick, hook=args.hook))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
