"""The orjson JSON provider answers what Flask's default provider answers (decoded), for the values we send."""

from __future__ import annotations

import dataclasses
import decimal
import json
import uuid
from datetime import UTC
from datetime import date
from datetime import datetime

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from service.web.json_provider import OrjsonProvider


@dataclasses.dataclass
class _Row:
    name: str
    count: int


VALUES = [
    {"cards": [], "note": "Nacken – Kopfschmerz ✓", "n": 3, "x": 1.5, "ok": True, "none": None},
    {"when": datetime(2026, 11, 29, 6, 0, tzinfo=UTC), "day": date(2026, 11, 29)},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "row": _Row("a", 2), "amount": decimal.Decimal("1.50")},
    {1: "int key"},
    [1, "two", [3.0]],
]


def _apps() -> tuple[Flask, Flask]:
    ours, theirs = Flask("ours"), Flask("theirs")
    ours.json = OrjsonProvider(ours)
    for app in (ours, theirs):
        app.json.sort_keys = False  # type: ignore[attr-defined]
        app.json.compact = True  # type: ignore[attr-defined]
    assert isinstance(theirs.json, DefaultJSONProvider)
    return ours, theirs


def test_responses_decode_to_what_flask_default_provider_gives() -> None:
    ours, theirs = _apps()
    for value in VALUES:
        with ours.app_context():
            mine = ours.json.response(value)
        with theirs.app_context():
            reference = theirs.json.response(value)
        assert json.loads(mine.get_data()) == json.loads(reference.get_data()), value
        assert mine.mimetype == reference.mimetype == "application/json"
        assert mine.get_data().endswith(b"\n")


def test_dumps_and_loads_round_trip_like_the_default() -> None:
    ours, theirs = _apps()
    for value in VALUES:
        assert json.loads(ours.json.dumps(value)) == json.loads(theirs.json.dumps(value))
    assert ours.json.loads(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert ours.json.dumps({"b": 1}, indent=2) == theirs.json.dumps({"b": 1}, indent=2)
