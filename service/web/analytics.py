"""Governance analytics: cards issued, feedback and override rates per recommendation id."""

from __future__ import annotations

import hmac

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

from service.config import AuthMode
from service.errors import UnauthorizedError
from service.invocation import Runtime

bp = Blueprint("analytics", __name__, url_prefix="/analytics")


@bp.before_request
def _require_admin() -> None:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    if runtime.settings.auth is AuthMode.OFF:
        return
    expected = runtime.settings.admin_token
    given = request.headers.get("Authorization", "")
    if not expected or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise UnauthorizedError("analytics needs the admin token")


@bp.get("/recommendations")
def recommendations() -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    return jsonify({"recommendations": runtime.store.recommendation_summary()})
