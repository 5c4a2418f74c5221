"""Governance analytics: cards issued, feedback and override rates per recommendation id.

``GET /analytics/recommendations`` is the data (admin token when auth is required); ``GET /analytics/`` is a
page that holds no data itself: its script asks for the token and reads the JSON, so tokens never travel in
URLs or server logs. ``GET /analytics/terminology.md`` / ``.csv`` is the terminology review report (the same
as ``cgh-cds terminology``), under the same admin-token rule.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request

from service.config import AuthMode
from service.errors import UnauthorizedError
from service.governance.terminology_report import ReportFormat
from service.governance.terminology_report import render as render_terminology_report
from service.invocation import Runtime

bp = Blueprint("analytics", __name__, url_prefix="/analytics", template_folder="templates",
               static_folder="static", static_url_path="/static")


def _require_admin(runtime: Runtime) -> None:
    if runtime.settings.auth is AuthMode.OFF:
        return
    expected = runtime.settings.admin_token
    given = request.headers.get("Authorization", "")
    if not expected or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise UnauthorizedError("analytics needs the admin token (CGH_ADMIN_TOKEN)")


@bp.get("/")
def page() -> str:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    return render_template("analytics.html", auth_required=runtime.settings.auth is AuthMode.REQUIRED)


_REPORT_TYPES = {
    ReportFormat.MARKDOWN: "text/markdown; charset=utf-8",
    ReportFormat.CSV: "text/csv; charset=utf-8",
}


def _terminology_report(report_format: ReportFormat) -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    _require_admin(runtime)
    body = render_terminology_report(report_format)
    response = Response(body, content_type=_REPORT_TYPES[report_format])
    response.headers["Content-Disposition"] = f'inline; filename="terminology-review.{report_format.value}"'
    return response


@bp.get("/terminology.md")
def terminology_markdown() -> Response:
    return _terminology_report(ReportFormat.MARKDOWN)


@bp.get("/terminology.csv")
def terminology_csv() -> Response:
    return _terminology_report(ReportFormat.CSV)


@bp.get("/recommendations")
def recommendations() -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    _require_admin(runtime)
    runtime.audit.flush()  # this worker's batched audit rows, so the figures include its latest cards
    figures = {row["recommendation"]: row for row in runtime.store.recommendation_summary()}
    rows: list[dict[str, Any]] = []
    for recommendation, content in runtime.cards.cards.items():
        row = figures.get(recommendation.value) or {
            "recommendation": recommendation.value, "cardsIssued": 0, "accepted": 0, "overridden": 0,
            "overrideRate": None, "overrideReasons": {},
        }
        reasons = [
            {"code": code, "display": runtime.cards.override_reason_display(code) or code, "count": count}
            for code, count in sorted(row["overrideReasons"].items(), key=lambda item: -item[1])
        ]
        rows.append({**row, "title": content.title, "version": content.version, "overrideReasons": reasons})
    rows.sort(key=lambda r: (-r["cardsIssued"], r["recommendation"]))
    unverified = [{"citation": ev.label, "url": ev.url} for ev in runtime.cards.recalled_citations]
    return jsonify({"recommendations": rows, "unverifiedCitations": unverified})
