"""Read a request's JSON body once: media type, size limit, and parsing with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from flask import current_app
from flask import request

from service.errors import BadRequestError
from service.errors import PayloadTooLargeError
from service.errors import UnsupportedMediaTypeError


def read_json_body() -> Any:
    """The decoded JSON body of the current request.

    :raises UnsupportedMediaTypeError: the Content-Type is not JSON.
    :raises PayloadTooLargeError: the body is over ``CGH_MAX_BODY_MB``.
    :raises BadRequestError: the body is empty or not valid JSON.
    """
    mimetype = request.mimetype or ""
    if not (mimetype == "application/json" or mimetype.endswith("+json")):
        raise UnsupportedMediaTypeError(
            f"Content-Type {mimetype or '(none)'!r} is not accepted; send the body as JSON with "
            "Content-Type: application/json."
        )
    limit: int = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLargeError(f"The body is {request.content_length} bytes; the limit is {limit} bytes.")
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        raise PayloadTooLargeError(f"The body is over the limit of {limit} bytes.")
    if not raw.strip():
        raise BadRequestError("The request body is empty; send a JSON object.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"The body is not valid JSON ({exc.msg} at position {exc.pos}).") from None
