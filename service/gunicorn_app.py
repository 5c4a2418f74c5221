"""Run the app under gunicorn (gthread workers, app preloaded and warmed before fork).

What operators do to a running server is safe here: ``kill -HUP`` (reload), SIGTERM to one worker, worker
recycling (``max_requests``), and SIGTERM to the master (drain, then graceful stop). The Prometheus
multiprocess folder belongs to the master: it is prepared before the first fork, files of dead workers are
marked dead as they exit, and it is removed (when the master made it) only when the master itself exits.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from service.config import ProcessSettings
from service.draining import DrainFlag

#: Prefix of the metrics folders a master makes for itself; the pid after it lets a later master sweep the
#: folder of one that was killed (SIGKILL runs no clean-up).
OWNED_METRICS_PREFIX = "cgh-cds-metrics-"


def default_workers() -> int:
    """Two cores here: one worker per core, threads for the FHIR fetches that wait on the network."""
    return max(2, os.cpu_count() or 2)


class _DrainingArbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's master, but SIGTERM first fails readiness for ``drain_s`` seconds, then stops gracefully."""

    def __init__(self, app: BaseApplication, drain: DrainFlag, drain_s: float) -> None:
        self._drain = drain
        self._drain_s = drain_s
        self._stop_at: float | None = None
        super().__init__(app)

    def handle_term(self) -> None:
        if self._drain_s <= 0 or self._stop_at is not None:
            raise StopIteration  # gunicorn's graceful stop (a second SIGTERM skips what is left of the drain)
        self.log.info("SIGTERM: draining for %gs (/readyz answers 503), then stopping gracefully", self._drain_s)
        self._drain.raise_flag()
        self._stop_at = time.monotonic() + self._drain_s

    def manage_workers(self) -> None:
        # Called by the master loop at least once a second.
        if self._stop_at is not None and time.monotonic() >= self._stop_at:
            raise StopIteration
        super().manage_workers()


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured in code, so ``cgh-cds serve`` needs no config file."""

    def __init__(self, app_factory: Callable[[], Flask], options: dict[str, Any], *, drain_s: float = 0) -> None:
        self._factory = app_factory
        self._options = options
        self._drain_s = drain_s
        self.drain = DrainFlag()
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        app = self._factory()
        app.extensions["cgh_drain"] = self.drain
        return app

    def run(self) -> None:
        try:
            _DrainingArbiter(self, self.drain, self._drain_s).run()
        except RuntimeError as error:  # as gunicorn's own run(): e.g. the port is taken
            print(f"\nError: {error}\n", file=sys.stderr)
            sys.exit(1)


def _runtime(worker: Any) -> Any:
    app = worker.app.callable if hasattr(worker.app, "callable") else None
    return getattr(app, "extensions", {}).get("cgh_runtime") if app is not None else None


def _post_fork(server: Any, worker: Any) -> None:
    runtime = _runtime(worker)
    if runtime is not None:
        # Connections opened by the preloaded app must not be shared across processes.
        runtime.store.engine.dispose(close=False)
        # The audit writer starts now, not at the first request: it adopts the spools of killed workers.
        runtime.audit.start()


def _worker_exit(server: Any, worker: Any) -> None:
    # Graceful stop (SIGTERM, HUP, recycling): write the batched audit rows before the worker goes.
    runtime = _runtime(worker)
    if runtime is not None:
        runtime.audit.close()


def _child_exit(server: Any, worker: Any) -> None:
    # In the master, for every worker that ends (however it ended): as prometheus_client documents.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def prepare_metrics_dir() -> str | None:
    """Make the Prometheus multiprocess folder ready before the first fork; return it if this master owns it.

    A folder set by the deployment (``PROMETHEUS_MULTIPROC_DIR``) is kept but emptied of the previous run's
    files, as prometheus_client asks ("wiped between runs"): counters restart at zero with the server, which
    Prometheus' ``rate()`` and ``increase()`` expect. Otherwise a private folder is made in the temp dir, and
    the folders of masters that were killed are swept.
    """
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        folder = Path(configured)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
        return None
    _sweep_abandoned_metrics_dirs(Path(tempfile.gettempdir()))
    owned = tempfile.mkdtemp(prefix=f"{OWNED_METRICS_PREFIX}{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = owned
    return owned


def _sweep_abandoned_metrics_dirs(parent: Path) -> None:
    for folder in parent.glob(f"{OWNED_METRICS_PREFIX}*-*"):
        pid_text = folder.name[len(OWNED_METRICS_PREFIX):].split("-", 1)[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def serve(app_factory: Callable[[], Flask], *, host: str, port: int, workers: int, threads: int,
          timeout: int = 30, process: ProcessSettings | None = None) -> None:
    """Start gunicorn in the foreground until stopped."""
    process = process or ProcessSettings()
    master_pid = os.getpid()
    owned_metrics_dir = prepare_metrics_dir()
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "preload_app": True,
        "timeout": timeout,
        "graceful_timeout": process.graceful_timeout,
        "max_requests": process.max_requests,
        "max_requests_jitter": process.jitter,
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
        GunicornServer(app_factory, options, drain_s=process.drain_s).run()
    finally:
        # Workers leave gunicorn's loop through this same frame (they are forked inside it): only the master
        # may remove the folder every worker writes to.
        if owned_metrics_dir and os.getpid() == master_pid:
            shutil.rmtree(owned_metrics_dir, ignore_errors=True)
