"""Reading the FHIR elements the pathway relies on, validated with fhir.resources R4B datatype models.

Each reader takes the raw JSON value of one element and returns plain Python data (normalised codings,
``datetime.date``, strings), or raises :class:`InvalidElementError` naming the element. The rules:

* complex datatypes (CodeableConcept, Quantity) are validated with their ``fhir.resources.R4B`` model, so
  a wrong JSON type anywhere inside them (``"code": 42``, ``coding`` not an array) is invalid; empty objects
  such as ``coding: [{}]`` are valid and simply carry no code;
* ``date`` and ``dateTime`` use the R4B primitive types (FHIR regex plus a real calendar date; a time needs a
  time zone). Partial dates become the first day of the year or month; a dateTime keeps the calendar date
  as written (no time-zone conversion);
* ``code`` and ``string`` primitives must be JSON strings;
* an array element sent as a single object (the Sandbox sends ``category`` that way) is read as a
  one-element array.

Absent or ``null`` elements are never invalid: they read as "no value".
"""

from __future__ import annotations

import math
import re
from datetime import date
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from fhir.resources.R4B import fhirtypes
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.quantity import Quantity
from pydantic import TypeAdapter
from pydantic import ValidationError

from service.fhir.coding import Coding
from service.fhir.coding import normalise

_DATE: TypeAdapter[Any] = TypeAdapter(fhirtypes.DateType)
_DATETIME: TypeAdapter[Any] = TypeAdapter(fhirtypes.DateTimeType)

# Fast paths (performance, bench/README.md): the shapes real data almost always has are recognised with a
# strict pattern and accepted without the pydantic model; anything else goes to the model, so a fast path
# only ever accepts what the model accepts (checked by tests/unit/fhir/test_elements_fast_paths.py).
#: A full FHIR date, or a dateTime to the second (at most 6 fraction digits) with a time zone.
_FAST_DATE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_FAST_DATETIME = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?"
)
#: Quantity elements with plain printable-ASCII values: a ``code``, a ``uri`` and a non-empty ``string``.
_FAST_CODE = re.compile(r"[!-~]+(?: [!-~]+)*")
_FAST_URI = re.compile(r"[!-~]+")
_FAST_STRING = re.compile(r"[ -~]+")


class InvalidElementError(ValueError):
    """An element the pathway relies on is not valid FHIR R4; ``element`` names it (no patient data)."""

    def __init__(self, element: str) -> None:
        super().__init__(f"{element} is not valid FHIR R4")
        self.element = element


def as_list(value: Any) -> list[Any]:
    """An array element as a list: ``None`` → ``[]``, a lone object → ``[object]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def string(value: Any, element: str) -> str | None:
    """A ``string``/``code`` primitive, stripped; blank reads as ``None``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidElementError(element)
    stripped = value.strip()
    return stripped or None


def codeable_concept(value: Any, element: str) -> tuple[tuple[Coding, ...], str | None]:
    """The normalised codings and the text of a CodeableConcept (``((), None)`` when absent)."""
    if value is None:
        return (), None
    if not isinstance(value, dict):
        raise InvalidElementError(element)
    # Real records repeat the same few concepts many times (one procedure code per session, one LOINC code per
    # vital sign): the whole reading is remembered by the concept's canonical JSON, not only the model's verdict.
    try:
        key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        raise InvalidElementError(element) from None
    read = _read_concept(key)
    if read is None:
        raise InvalidElementError(element)
    return read


@lru_cache(maxsize=8192)
def _read_concept(key: bytes) -> tuple[tuple[Coding, ...], str | None] | None:
    """The codings and text of the CodeableConcept whose canonical JSON is ``key``; ``None`` if it is invalid."""
    value = orjson.loads(key)
    raw_codings = value.get("coding") or ()
    # The models coerce a JSON *string* (or a lone object) into a Coding, so check the shape we iterate.
    if not isinstance(raw_codings, list | tuple) or not all(isinstance(raw, dict) for raw in raw_codings):
        return None
    if not _valid_json(CodeableConcept, key):
        return None
    codings = tuple(
        coding
        for raw in raw_codings
        if (coding := normalise(raw.get("system"), raw.get("code"), raw.get("display"))) is not None
    )
    text = value.get("text")
    return codings, (text.strip() or None) if isinstance(text, str) else None


def concept_code(value: Any, element: str) -> str | None:
    """The first code of a status-like CodeableConcept (``Condition.clinicalStatus``).

    STU3 and DSTU2 send these as a plain code string, which is accepted as is.
    """
    if isinstance(value, str):
        return string(value, element)
    codings, _ = codeable_concept(value, element)
    return codings[0].code if codings else None


def fhir_date(value: Any, element: str) -> date | None:
    """A FHIR ``date`` as a calendar date."""
    return _calendar_date(_DATE, value, element)


def fhir_datetime(value: Any, element: str) -> date | None:
    """A FHIR ``dateTime`` (or ``instant``) as the calendar date it was written with."""
    return _calendar_date(_DATETIME, value, element)


def period_start(value: Any, element: str) -> date | None:
    """``Period.start`` (or ``Period.end`` when only the end is known) as a calendar date."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidElementError(element)
    start = fhir_datetime(value.get("start"), f"{element}.start")
    end = fhir_datetime(value.get("end"), f"{element}.end")
    return start if start is not None else end


def quantity(value: Any, element: str) -> tuple[float | None, str | None]:
    """``Quantity.value`` as a float and its unit (``unit``, else ``code``)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise InvalidElementError(element)
    if not _plain_quantity(value):
        try:
            Quantity.model_validate(value)  # values rarely repeat: not worth caching
        except ValidationError:
            raise InvalidElementError(element) from None
    number = value.get("value")
    unit = value.get("unit") or value.get("code")
    return (
        float(number) if isinstance(number, int | float) and not isinstance(number, bool) else None,
        unit if isinstance(unit, str) else None,
    )


def _plain_quantity(value: dict[str, Any]) -> bool:
    """Whether ``value`` is a Quantity the R4B model certainly accepts: a finite number and plain strings."""
    for key, item in value.items():
        if key == "value":
            if not (type(item) is int or (type(item) is float and math.isfinite(item))):
                return False
        elif key == "unit":
            if type(item) is not str or not _FAST_STRING.fullmatch(item):
                return False
        elif key == "code":
            if type(item) is not str or not _FAST_CODE.fullmatch(item):
                return False
        elif key == "system":
            if type(item) is not str or not _FAST_URI.fullmatch(item):
                return False
        else:
            return False
    return True


def annotation_texts(value: Any, element: str) -> tuple[str, ...]:
    """The ``text`` of each Annotation (``note``)."""
    texts: list[str] = []
    for item in as_list(value):
        if not isinstance(item, dict):
            raise InvalidElementError(element)
        text = string(item.get("text"), f"{element}.text")
        if text:
            texts.append(text)
    return tuple(texts)


def _valid_json(model: type[CodeableConcept], key: bytes) -> bool:
    """Whether the JSON ``key`` is a valid instance of the R4B datatype ``model`` (callers remember the verdict)."""
    try:
        model.model_validate_json(key)
    except ValidationError:
        return False
    return True


def _calendar_date(adapter: TypeAdapter[Any], value: Any, element: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidElementError(element)
    parsed = _parsed_date(adapter is _DATETIME, value)
    if parsed is None:
        raise InvalidElementError(element)
    return parsed


@lru_cache(maxsize=8192)
def _parsed_date(is_datetime: bool, value: str) -> date | None:
    """The calendar date of the FHIR ``dateTime`` (else ``date``) string ``value``; ``None`` when it is invalid.

    A record repeats the same dates (a course's sessions and their visits, the Synthea vital signs of one
    encounter): each string is parsed once. ``date`` is immutable, so sharing the result is safe.
    """
    adapter = _DATETIME if is_datetime else _DATE
    text = value.strip()
    fast = (_FAST_DATETIME if adapter is _DATETIME else _FAST_DATE).fullmatch(text)
    if fast is not None and fast.group(1) != "0000":
        try:
            return date(int(fast.group(1)), int(fast.group(2)), int(fast.group(3)))
        except ValueError:
            pass  # 2023-02-30: the model below gives the verdict
    try:
        parsed = adapter.validate_python(text)
    except ValidationError:
        return None
    if isinstance(parsed, datetime):
        return parsed.date()
    if isinstance(parsed, date):
        return parsed
    # A partial date ("2019", "2019-07") or a leap second: fhir.resources keeps the string.
    text = str(parsed)
    try:
        month = int(text[5:7]) if len(text) >= 7 else 1
        day = int(text[8:10]) if len(text) >= 10 else 1
        return date(int(text[0:4]), month, day)
    except ValueError:
        return None
