"""Run the app under gunicorn (gthread workers, app preloaded and warmed before fork)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


def default_workers() -> int:
    """Two cores here: one worker per core, threads for the FHIR fetches that wait on the network."""
    return max(2, os.cpu_count() or 2)


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured in code, so ``cgh-cds serve`` needs no config file."""

    def __init__(self, app_factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._factory()


def _post_fork(server: Any, worker: Any) -> None:
    # Connections opened by the preloaded app must not be shared across processes.
    app = worker.app.callable if hasattr(worker.app, "callable") else None
    runtime = getattr(app, "extensions", {}).get("cgh_runtime") if app is not None else None
    if runtime is not None:
        runtime.store.engine.dispose(close=False)


def _worker_exit(server: Any, worker: Any) -> None:
    # Graceful stop: write the batched audit rows before the worker goes.
    app = worker.app.callable if hasattr(worker.app, "callable") else None
    runtime = getattr(app, "extensions", {}).get("cgh_runtime") if app is not None else None
    if runtime is not None:
        runtime.audit.close()


def _child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def serve(app_factory: Callable[[], Flask], *, host: str, port: int, workers: int, threads: int,
          timeout: int = 30) -> None:
    """Start gunicorn in the foreground until interrupted."""
    owned_metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        owned_metrics_dir = tempfile.mkdtemp(prefix="cgh-cds-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = owned_metrics_dir
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "preload_app": True,
        "timeout": timeout,
        "graceful_timeout": 10,
        "keepalive": 5,
        "post_fork": _post_fork,
        "worker_exit": _worker_exit,
        "child_exit": _child_exit,
        # Access and error lines as the app's JSON; no request bodies or headers (service.gunicorn_logs).
        "accesslog": "-",
        "errorlog": "-",
        "logger_class": "service.gunicorn_logs.JsonLogger",
        # gunicorn 25+ opens a control socket at one fixed path per user ($XDG_RUNTIME_DIR or ~/.gunicorn),
        # which every instance on the host would share (and fight over); nothing here uses gunicornc.
        "control_socket_disable": True,
        "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    }
    try:
        GunicornServer(app_factory, options).run()
    finally:
        if owned_metrics_dir:
            shutil.rmtree(owned_metrics_dir, ignore_errors=True)
