"""The API contract and its browser: ``GET /openapi.yaml`` and Swagger UI at ``/docs/`` (assets shipped, no CDN)."""

from __future__ import annotations

from flask import Blueprint
from flask import Flask
from flask import Response
from flask_swagger_ui import get_swaggerui_blueprint

from service.config import PROJECT_ROOT

OPENAPI_PATH = PROJECT_ROOT / "openapi.yaml"

bp = Blueprint("docs", __name__)


@bp.get("/openapi.yaml")
def openapi_document() -> Response:
    return Response(OPENAPI_PATH.read_bytes(), mimetype="application/yaml")


def register_swagger_ui(app: Flask) -> None:
    app.register_blueprint(
        get_swaggerui_blueprint(
            "/docs", "/openapi.yaml", config={"app_name": "CGH CDS Hooks service", "tryItOutEnabled": True}
        )
    )
