"""Operations endpoints: liveness, readiness and Prometheus metrics (registered by ``init_metrics``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_flask_exporter import PrometheusMetrics

from service.config import AuthMode
from service.errors import StoreUnavailableError
from service.invocation import Runtime
from service.store.audit import AuditCounters

bp = Blueprint("ops", __name__)
log = logging.getLogger("service.web")

AUTH_OFF_WARNING = (
    "CGH_AUTH=off: CDS endpoints accept unauthenticated requests. Development only; never expose this "
    "service to a network in this mode."
)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int]:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    # Content cannot change after start-up (a broken file stops it), so these are what was loaded and checked.
    content = runtime.content
    checks: dict[str, Any] = {
        "content": "ok" if content.recommendations and content.value_sets else "missing",
        "recommendations": content.recommendations,
        "value_sets": content.value_sets,
        "content_digest": content.digest,
    }
    ready = checks["content"] == "ok"
    drain = current_app.extensions.get("cgh_drain")
    if drain is not None and drain.raised:
        # The server is stopping: take this replica out of the load balancer; other endpoints still answer.
        checks["process"] = "draining"
        ready = False
    try:
        runtime.store.ping()
        checks["database"] = "ok"
    except StoreUnavailableError:
        log.warning("readiness: database unreachable")
        checks["database"] = "unreachable"
        ready = False
    body: dict[str, Any] = {"status": "ready" if ready else "not-ready", "checks": checks}
    if runtime.settings.auth is AuthMode.OFF:
        body["warning"] = AUTH_OFF_WARNING
    return jsonify(body), 200 if ready else 503


def init_metrics(
    app: Flask,
) -> tuple[Callable[[str, list[dict[str, Any]]], None], Callable[[int], None], AuditCounters]:
    """Expose ``/metrics`` (request latency per route and status); return the card, skip and audit counters.

    Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set, every worker writes to that folder and
    ``/metrics`` aggregates them; otherwise each app gets its own registry (tests build many apps).
    """
    multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    registry: CollectorRegistry | None
    if multiprocess:
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        metrics: PrometheusMetrics = GunicornInternalPrometheusMetrics(app, group_by="url_rule")
        registry = None
    else:
        registry = CollectorRegistry(auto_describe=True)
        metrics = PrometheusMetrics(app, group_by="url_rule", registry=registry)
    metrics.info("cgh_cds_info", "CGH CDS Hooks service", version="0.1.0")
    cards_total = Counter(
        "cgh_cards_total", "Cards issued, by service and recommendation id and indicator",
        ["service", "recommendation", "indicator"], registry=registry,
    )
    skipped_total = Counter(
        "cgh_skipped_resources_total", "FHIR resources skipped as invalid in a field the pathway relies on",
        registry=registry,
    )

    dropped_total = Counter(
        "cgh_audit_dropped_total",
        "Invocation audit records not written because the database stayed unavailable (the spool keeps them)",
        registry=registry,
    )
    recovered_total = Counter(
        "cgh_audit_recovered_total",
        "Invocation audit records the database lacked, written from the spool of a worker that died",
        registry=registry,
    )
    lost_total = Counter(
        "cgh_audit_lost_total", "Invocation audit records known to be lost (unreadable audit spool lines)",
        registry=registry,
    )

    def count_cards(service_id: str, cards: list[dict[str, Any]]) -> None:
        for card in cards:
            cards_total.labels(service_id, card["source"]["topic"]["code"], card["indicator"]).inc()

    def count_skipped(count: int) -> None:
        skipped_total.inc(count)

    audit = AuditCounters(dropped=dropped_total.inc, recovered=recovered_total.inc, lost=lost_total.inc)
    return count_cards, count_skipped, audit
