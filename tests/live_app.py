"""The app behind a real HTTP server on a free loopback port, in a thread of the test process.

For the browser pages, Swagger UI and the commands that call the service over HTTP. The port is bound first (port
0: any free port) and the app is built for that URL, because its CSP and the JWT audience name the origin. Unlike
``tests/servers.py`` (gunicorn in a subprocess), the test can still reach into the app (seed its store).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from service import create_app
from service.config import Settings


@contextmanager
def live_app(settings_for: Callable[[str], Settings], *, name: str = "live-app") -> Iterator[tuple[str, Flask]]:
    """Serve ``create_app(settings_for(base_url))``; yields the base URL and the app, then stops and cleans up."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    app = create_app(settings_for(base_url))
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield base_url, app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        runtime = app.extensions["cgh_runtime"]
        runtime.audit.close()
        runtime.store.dispose()
