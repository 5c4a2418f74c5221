"""CDS Hooks 2.0 service for the cervicogenic headache pathway.

``create_app(settings=None)`` is the only entry point: it validates configuration and content, opens the
store, and registers the blueprints. No app exists at import time.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from service.config import Settings
from service.content import cards_dir as packaged_cards_dir

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["Settings", "create_app"]

def create_app(settings: Settings | None = None, *, cards_dir: Path | None = None) -> Flask:
    """Build the Flask app.

    :param settings: explicit settings (tests); default: read from ``CGH_*`` environment variables.
    :raises ConfigError: a setting is invalid.
    :raises ContentError: card content or value sets are invalid.
    """
    # Flask is imported here, not at the top: `import service.pathway` runs this package's __init__ and the
    # pathway must load no web stack (tests/unit/pathway/test_import_purity.py).
    from flask import Flask
    from flask import Response
    from flask import g
    from flask import request

    from service.content import digest
    from service.content import value_sets_dir
    from service.fhir import make_session
    from service.governance.modes import load_governance
    from service.invocation import ContentSummary
    from service.invocation import Runtime
    from service.logs import configure_logging
    from service.pathway.terminology import all_value_sets
    from service.render import load_card_library
    from service.security import init_app as init_security
    from service.store import Store
    from service.store.audit import AuditWriter
    from service.store.schema import prepare_schema
    from service.web import analytics
    from service.web import cds
    from service.web import docs
    from service.web import ops
    from service.web import preview
    from service.web import sandbox
    from service.web.errors import register_error_handlers
    from service.web.json_provider import OrjsonProvider

    settings = settings or Settings.from_env()
    settings.validate()
    configure_logging()

    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        TESTING=settings.testing,
        PROPAGATE_EXCEPTIONS=settings.testing,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json = OrjsonProvider(app)
    app.json.sort_keys = False
    app.json.compact = True

    governance = load_governance(settings.governance_path)  # a bad file stops start-up before the database
    audit_key = settings.audit_key or _instance_secret(Path(app.instance_path) / "audit.key")
    store = Store(settings.effective_database_url, audit_key=audit_key)
    prepare_schema(store.engine)  # an out-of-date schema stops start-up: `cgh-cds db upgrade` moves it
    if store.record_governance(digest=governance.digest, source=governance.source, modes=governance.as_json()):
        logging.getLogger("service.governance").warning(
            "governance changed: modes from %s (sha256 %s) now in force", governance.source, governance.digest[:12],
            extra={"not_active": governance.not_active()},
        )
    # Content is loaded and validated now, so a broken file stops start-up with its name (ContentError).
    cards_folder = cards_dir or packaged_cards_dir()
    cards = load_card_library(cards_folder)
    value_sets = all_value_sets()
    content = ContentSummary(len(cards), len(value_sets), digest(cards_folder, value_sets_dir()))
    count_cards, count_skipped, audit_counters, count_unavailable = ops.init_metrics(app)
    runtime = Runtime(
        settings=settings,
        store=store,
        # Tests see each audit row as soon as the answer is sent; the real service spools and batches them.
        audit=AuditWriter(store, synchronous=settings.testing, spool_dir=settings.effective_audit_spool_dir,
                          counters=audit_counters),
        cards=cards,
        http=make_session(),
        content=content,
        governance=governance,
        on_cards=count_cards,
        on_skipped=count_skipped,
        on_unavailable=count_unavailable,
    )
    app.extensions["cgh_runtime"] = runtime

    @app.before_request
    def _request_id() -> None:
        supplied = request.headers.get("X-Request-ID", "")
        g.request_id = supplied if 0 < len(supplied) <= 64 and supplied.isprintable() else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    register_error_handlers(app)
    init_security(app, settings, store)
    app.register_blueprint(cds.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(docs.bp)
    docs.register_swagger_ui(app)
    app.register_blueprint(analytics.bp)
    app.register_blueprint(preview.bp)
    app.register_blueprint(sandbox.bp)
    return app


def _instance_secret(path: Path) -> str:
    """A random key kept in the instance folder, so patient hashes stay stable across restarts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        import secrets

        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
