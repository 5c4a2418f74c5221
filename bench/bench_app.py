"""The production app plus one bench-only route, served the way ``cgh-cds serve`` serves it.

``create_bench_app()`` is ``service.create_app`` (settings from ``CGH_*``) warmed up like ``cgh-cds serve``,
plus ``POST /bench/floor``: read the body exactly like the CDS endpoints (media type, size limit, orjson) and
answer ``{"cards": []}``. That is the HTTP floor: the same app, middleware, gunicorn and JSON parse, without
the hook. Production code carries no bench route.

With ``BENCH_AUDIT=off`` (a diagnostic run of the benchmark, never production) the audit write of each
invocation is skipped, to attribute the HTTP cost between the hook's work and the database.

``python -m bench.bench_app --port N [--workers W --threads T]`` runs it under
``service.gunicorn_app.serve`` (gthread, preload, warm-up before fork), the production runner.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from flask import Flask
from flask import Response
from flask import jsonify

FLOOR_PATH = "/bench/floor"


def create_bench_app() -> Flask:
    from service import create_app
    from service.config import Settings
    from service.invocation import warm_up
    from service.web.body import read_json_body

    app = create_app(Settings.from_env())
    warm_up(app)
    if os.environ.get("BENCH_AUDIT") == "off":
        runtime = app.extensions["cgh_runtime"]
        app.extensions["cgh_runtime"] = dataclasses.replace(runtime, audit=_NoAudit())

    def floor() -> Response:
        read_json_body()
        return jsonify({"cards": []})

    app.add_url_rule(FLOOR_PATH, "bench_floor", floor, methods=["POST"])
    return app


class _NoAudit:
    """An audit writer that writes nothing (the BENCH_AUDIT=off diagnostic row)."""

    def start(self) -> None:
        return None

    def submit(self, record: object) -> None:
        return None

    def flush(self, timeout_s: float = 5.0) -> None:
        return None

    def close(self) -> None:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    from service.config import ProcessSettings
    from service.gunicorn_app import default_workers
    from service.gunicorn_app import serve

    parser = argparse.ArgumentParser(prog="bench.bench_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=4)  # `cgh-cds serve` default
    args = parser.parse_args(argv)
    sys.argv = sys.argv[:1]  # gunicorn's BaseApplication parses sys.argv too
    serve(create_bench_app, host=args.host, port=args.port, workers=args.workers or default_workers(),
          threads=args.threads, process=ProcessSettings(drain_s=0))  # no load balancer probes it
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
