"""The one place where exceptions become HTTP answers: a JSON body ``{"error": code, "message": text}``.

A 4xx tells the client what to fix. A 5xx is our fault: it is logged at ERROR with its traceback and the
request id, and the client gets only a generic message quoting that request id (never the internal message,
which may name files, queries or hosts).
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from werkzeug.exceptions import HTTPException

from service.errors import CdsServiceError
from service.errors import UnauthorizedError

log = logging.getLogger("service.web")

_HTTP_CODES = {
    400: ("bad-request", "The request could not be understood; check the JSON body and the headers."),
    404: ("not-found", "No such endpoint. The CDS Hooks discovery endpoint is GET /cds-services."),
    405: ("method-not-allowed", "This endpoint does not accept that HTTP method; see the Allow header."),
    413: ("payload-too-large", "The request body is larger than this service accepts (CGH_MAX_BODY_MB)."),
    415: ("unsupported-media-type", "Send the body as JSON with Content-Type: application/json."),
}


def error_response(status: int, code: str, message: str | None) -> Response:
    body: dict[str, str] = {"error": code}
    if message:
        body["message"] = message
    response = jsonify(body)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CdsServiceError)
    def _service_error(error: CdsServiceError) -> Response:
        if isinstance(error, UnauthorizedError):
            # CDS Hooks best practice: a 401 carries no detail; the reason is logged without the token.
            return error_response(401, error.code, None)
        if error.status >= 500:
            return _server_fault(error.status, error.code, error)
        log.info("request refused", extra={"status": error.status, "error": error.code,
                                            "request_id": g.get("request_id")})
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status >= 500:
            return _server_fault(status, "internal-error", error)
        code, message = _HTTP_CODES.get(status, ("http-error", error.description or ""))
        response = error_response(status, code, message)
        valid_methods = getattr(error, "valid_methods", None)
        if status == 405 and valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if current_app.config.get("PROPAGATE_EXCEPTIONS"):
            raise error
        return _server_fault(500, "internal-error", error)


def _server_fault(status: int, code: str, error: BaseException) -> Response:
    request_id = _request_id()
    log.error("server error", exc_info=error, extra={"status": status, "error": code, "request_id": request_id})
    retry = " It may be retried." if status == 503 else ""
    message = (f"The service failed to answer this request; the fault is ours, not the request's.{retry} "
               f"Quote request id {request_id} when reporting it.")
    return error_response(status, code, message)


def _request_id() -> str:
    # Set by the app's before_request hook; an error raised before it still gets an id to quote.
    request_id: str | None = g.get("request_id")
    if not request_id:
        request_id = g.request_id = uuid.uuid4().hex
    return request_id
