"""The card gallery: ``/preview/``, where the clinical team reviews card wording before a release.

``GET /preview/`` is a page that holds no data itself; its script asks for the admin token when auth is
required (the rule of ``/analytics/``) and reads ``GET /preview/cards``: every fixture scenario's cards as the
service renders them, the detail markdown already turned into HTML without raw HTML (``service.gallery``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import render_template

from service.config import PROJECT_ROOT
from service.config import AuthMode
from service.gallery import gallery
from service.invocation import Runtime
from service.web.admin import require_admin

bp = Blueprint("preview", __name__, url_prefix="/preview", template_folder="templates",
               static_folder="static", static_url_path="/static")

FIXTURES_DIR = PROJECT_ROOT / "fhir_fixtures"
_CACHE_KEY = "cgh_gallery"


@bp.get("/")
def page() -> str:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    return render_template("preview.html", auth_required=runtime.settings.auth is AuthMode.REQUIRED)


@bp.get("/cards")
def cards() -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    require_admin(runtime, "the card gallery")
    today = date.today()
    # The scenarios and cards change only with a release (or the date they are rolled to): build once a day.
    cached: tuple[date, list[dict[str, Any]]] | None = current_app.extensions.get(_CACHE_KEY)
    if cached is None or cached[0] != today:
        entries = [entry.as_json() for entry in gallery(FIXTURES_DIR, runtime, today)]
        cached = (today, entries)
        current_app.extensions[_CACHE_KEY] = cached
    recommendations = [{"code": rec.value, "title": content.title} for rec, content in runtime.cards.cards.items()]
    return jsonify({"today": today.isoformat(), "recommendations": recommendations, "scenarios": cached[1]})
