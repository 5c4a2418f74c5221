"""The fast paths of ``service.fhir.elements`` give exactly the fhir.resources verdict (and the same date).

``quantity`` and ``fhir_date``/``fhir_datetime`` skip the pydantic models for the plain shapes real data
has (a performance fix measured in bench/README.md). These tests compare them with the models themselves on
edge cases and on generated input, so a fast path can never accept what the model rejects.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

import pytest
from fhir.resources.R4B import fhirtypes
from fhir.resources.R4B.quantity import Quantity
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from pydantic import ValidationError

from service.fhir.elements import InvalidElementError
from service.fhir.elements import fhir_date
from service.fhir.elements import fhir_datetime
from service.fhir.elements import quantity

_DATE: TypeAdapter[Any] = TypeAdapter(fhirtypes.DateType)
_DATETIME: TypeAdapter[Any] = TypeAdapter(fhirtypes.DateTimeType)


def _model_date(adapter: TypeAdapter[Any], text: str) -> date | None:
    """The date the pydantic model gives (None: invalid), partial dates as their first day."""
    try:
        parsed = adapter.validate_python(text.strip())
    except ValidationError:
        return None
    if isinstance(parsed, datetime):
        return parsed.date()
    if isinstance(parsed, date):
        return parsed
    raw = str(parsed)
    try:
        return date(int(raw[0:4]), int(raw[5:7]) if len(raw) >= 7 else 1, int(raw[8:10]) if len(raw) >= 10 else 1)
    except ValueError:
        return None


def _ours(reader: Any, text: str) -> date | None:
    try:
        return reader(text, "x")  # type: ignore[no-any-return]
    except InvalidElementError:
        return None


DATE_EDGES = [
    "2024-02-29", "2023-02-29", "2023-02-30", "2023-04-31", "0000-01-01", "0001-01-01", "1000-01-01", "9999-12-31",
    "2024-13-01", "2024-00-10", "2024-01-00", "2024-1-01", "2024-01", "2024", " 2024-01-02 ", "2024-01-02T",
    "2024-01-02T10:11:12Z", "2024-01-02T10:11:12+05:30", "2024-01-02T10:11:12-00:00", "2024-01-02T10:11:12+14:00",
    "2024-01-02T10:11:12+14:01", "2024-01-02T10:11:12+13:59", "2024-01-02T10:11:12-13:00", "2024-01-02T24:00:00Z",
    "2024-01-02T23:59:60Z", "2024-01-02T23:59:59.123456Z", "2024-01-02T23:59:59.1234567Z", "2024-01-02T23:59:59.Z",
    "2024-01-02T10:11:12", "2024-01-02T10:11Z", "2024-01-02t10:11:12Z", "2024-01-02 10:11:12Z", "2024-01-02T10:11:12z",
    "2024-01-02T10:11:12+0530", "２０２４-01-02", "2024-01-02\n", "2024-01-02T10:11:12.5+01:00", "+2024-01-02",
    "1987-04-16T16:51:27+00:00", "2024-02-29T00:00:00.000Z", "1900-02-29", "2000-02-29", "",
]


@pytest.mark.parametrize("text", DATE_EDGES)
def test_dates_match_the_model_on_edge_cases(text: str) -> None:
    assert _ours(fhir_datetime, text) == _model_date(_DATETIME, text)
    assert _ours(fhir_date, text) == _model_date(_DATE, text)


_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=2)
_LOOSE_DATETIME = st.builds(
    lambda y, m, d, t, frac, zone: f"{y}-{m}-{d}" + (f"T{t}{frac}{zone}" if t is not None else ""),
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
    _DIGITS, _DIGITS,
    st.none() | st.builds(lambda h, mi, s: f"{h}:{mi}:{s}", _DIGITS, _DIGITS, _DIGITS),
    st.sampled_from(["", ".1", ".123456", ".1234567", "."]),
    st.sampled_from(["Z", "", "+00:00", "-00:00", "+14:00", "+14:30", "-13:59", "+5:00", "z"]),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_LOOSE_DATETIME, st.text(max_size=30)))
def test_dates_match_the_model_on_generated_input(text: str) -> None:
    assert _ours(fhir_datetime, text) == _model_date(_DATETIME, text)
    assert _ours(fhir_date, text) == _model_date(_DATE, text)


def _model_accepts(value: dict[str, Any]) -> bool:
    try:
        Quantity.model_validate(value)
    except ValidationError:
        return False
    return True


def _we_accept(value: dict[str, Any]) -> bool:
    try:
        quantity(value, "valueQuantity")
    except InvalidElementError:
        return False
    return True


QUANTITY_EDGES: list[dict[str, Any]] = [
    {"value": 1}, {"value": 1.5}, {"value": True}, {"value": "1.5"}, {"value": 1e308}, {"value": -0.0},
    {"value": 10**30}, {"value": None}, {"value": [1]}, {"unit": ""}, {"unit": " kg"}, {"unit": "kg "},
    {"unit": "\u00a0"}, {"unit": "\x1c"}, {"unit": "\t"}, {"unit": "é"}, {"code": "a b"}, {"code": "a  b"},
    {"code": " a"}, {"code": ""}, {"code": "a\tb"}, {"system": ""}, {"system": "http://x y"},
    {"system": "http://unitsofmeasure.org"}, {"comparator": "<"}, {"comparator": "zz"}, {"foo": 1},
    {"id": "x"}, {"extension": []}, {"unit": 5}, {}, {"value": 70.3, "unit": "kg", "system": "http://unitsofmeasure.org",
                                                   "code": "kg"},
]


@pytest.mark.parametrize("value", QUANTITY_EDGES)
def test_quantity_matches_the_model_on_edge_cases(value: dict[str, Any]) -> None:
    assert _we_accept(value) == _model_accepts(value)


_TEXTS = st.one_of(st.text(max_size=8),
                   st.sampled_from(["kg", "mm[Hg]", "%", "d/mo", " ", "", "a b", "a  b", "\u2028"]))
_VALUES = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
                    _TEXTS)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["value", "unit", "code", "system", "comparator", "id", "foo"]),
                       _VALUES, max_size=5))
def test_quantity_matches_the_model_on_generated_input(value: dict[str, Any]) -> None:
    assert _we_accept(value) == _model_accepts(value)
