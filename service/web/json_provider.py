"""Flask's JSON provider on orjson: every ``jsonify`` (cards, discovery, errors) serialised in C.

Profiling the HTTP path showed the standard library's ``json.dumps`` of the response among the largest costs
left outside the hook itself. Output stays what Flask's default provider gives for our values: compact, keys in
insertion order, a trailing newline, dates in Flask's HTTP-date form (they are handed to Flask's ``default``,
as are decimals and objects with ``__html__``), UUIDs and dataclasses as Flask writes them. One difference, and
valid JSON either way: non-ASCII characters are written as UTF-8 instead of ``\\u`` escapes.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response as BaseResponse

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class OrjsonProvider(DefaultJSONProvider):
    """``DefaultJSONProvider`` with orjson for ``dumps``, ``loads`` and ``response`` (compact output only)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs or self.sort_keys:
            return super().dumps(obj, **kwargs)  # indent and the like: the standard library's options
        return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> BaseResponse:
        if self.compact is False or (self.compact is None and self._app.debug) or self.sort_keys:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, default=self.default, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE)
        # The app's response class is Flask's (which takes bytes); its annotation is werkzeug's base class.
        return Response(body, mimetype=self.mimetype)
