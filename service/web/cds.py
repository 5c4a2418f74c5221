"""CDS Hooks endpoints: discovery, service invocation and feedback. Thin: parse, call one function, answer."""

from __future__ import annotations

from datetime import date

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify

from service.invocation import Runtime
from service.invocation import answer_hook
from service.protocol import parse_feedback
from service.services import discovery_document
from service.services import get_service
from service.store.repository import FeedbackRecord
from service.web.body import read_json_body

bp = Blueprint("cds", __name__)


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    return runtime


@bp.get("/cds-services")
def discovery() -> Response:
    return jsonify(discovery_document())


@bp.post("/cds-services/<service_id>")
def invoke(service_id: str) -> Response:
    service = get_service(service_id)
    payload = read_json_body()
    # The pathway never reads the clock: today's date is decided here, at the edge (pinned by `evaluate --today`).
    runtime = _runtime()
    today = runtime.settings.today or date.today()
    body = answer_hook(service, payload, runtime, today=today, client_iss=g.get("client_iss"))
    return jsonify(body)


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    service = get_service(service_id)
    items = parse_feedback(read_json_body())
    runtime = _runtime()
    stored = runtime.store.record_feedback(
        service.id,
        (
            FeedbackRecord(
                card_uuid=item.card,
                outcome=item.outcome.value,
                accepted_suggestions=item.accepted_suggestions,
                override_system=item.override_system,
                override_code=item.override_code,
                user_comment=item.user_comment,
                outcome_timestamp=item.outcome_timestamp,
            )
            for item in items
        ),
        client_iss=g.get("client_iss"),
        store_comments=runtime.settings.store_comments,
    )
    # Answered only after the commit above: nothing acknowledged is lost.
    return jsonify({"stored": stored})
