"""Fixture scenarios (``fhir_fixtures/``): load them, roll their dates to today, and check a response.

A scenario file holds a complete CDS Hooks request, the date it was written for (``referenceDate``), the
service it targets and the cards the service must (and must not) answer with; ``fhir_fixtures/README.md``
describes the format. Tests, ``cgh-cds evaluate | replay`` and the Swagger examples read the same files.

Replaying a scenario on another day keeps ages and intervals intact by moving every FHIR date, dateTime and
instant in the request by ``today - referenceDate`` days (:func:`roll_dates`). Which strings are dates is
decided by the element name (``birthDate``, ``onsetDateTime``, ``start``, ``authoredOn``, ...), never by
the look of the value, so ids, codes and identifiers that happen to be all digits stay as they are. Intervals
in days are kept exactly; an age in calendar years can move by a day when the shift crosses a different number
of leap days, so fixtures keep their age boundaries a few weeks away from a birthday.

The format is checked by marshmallow schemas: every problem of a file is reported at once, naming the file and
the field (``expect.cards[0].indicator``). Unknown keys are ignored, as they always were (``review``, notes).
Stdlib, orjson and marshmallow only: no Flask, no FHIR models, nothing from the pathway.
"""

from __future__ import annotations

import calendar
import copy
import re
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import date
from datetime import timedelta
from pathlib import Path
from typing import Any
from typing import Final

import orjson
from marshmallow import EXCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate
from marshmallow import validates_schema

from service.validation import flatten_messages

__all__ = [
    "ExpectedCard",
    "Expectation",
    "Scenario",
    "check_response",
    "iter_scenarios",
    "load_scenario",
    "roll_date_string",
    "roll_dates",
]

INDICATORS = frozenset({"info", "warning", "critical"})

#: Element names whose values are FHIR date / dateTime / instant (or lists of them) wherever they occur.
#: ``start``/``end`` are Period's, ``time`` is Annotation's, ``event`` is Timing's.
DATE_ELEMENTS = frozenset({
    "authoredOn", "created", "date", "dateAsserted", "dateWritten", "end", "event", "issued", "lastUpdated",
    "recorded", "start", "time", "timestamp", "whenHandedOver", "whenPrepared",
})
#: Element-name suffixes that mark a date-typed element (``birthDate``, ``onsetDateTime``, ``valueInstant``).
DATE_SUFFIXES = ("Date", "DateTime", "Instant")

_DATE_RE = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?P<time>T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?)?)?$"
)


@dataclass(frozen=True, slots=True)
class ExpectedCard:
    """A card that must be in the response: its recommendation id, indicator and (optionally) actions."""

    recommendation: str
    indicator: str
    #: ``system|code`` of resources some suggestion must create (e.g. ``http://snomed.info/sct|91251008``).
    suggestion_codes: tuple[str, ...] = ()
    #: ``Type/id`` of draft orders some suggestion must delete.
    deletes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the service must answer: HTTP status, error code, cards present and recommendation ids absent."""

    status: int = 200
    error: str | None = None
    cards: tuple[ExpectedCard, ...] = ()
    absent: tuple[str, ...] = ()
    #: When true, no card other than those in ``cards`` may appear.
    exact: bool = False


@dataclass(frozen=True, slots=True)
class Scenario:
    """One fixture file."""

    path: Path
    title: str
    scenario: str
    reference_date: date
    service: str
    request: dict[str, Any]
    server_resources: list[dict[str, Any]] = field(default_factory=list)
    expect: Expectation = field(default_factory=Expectation)

    def rolled_to(self, today: date) -> Scenario:
        """A copy whose request and server resources are moved so that ``referenceDate`` becomes ``today``."""
        delta = (today - self.reference_date).days
        return replace(
            self,
            reference_date=today,
            request=roll_dates(self.request, delta),
            server_resources=roll_dates(self.server_resources, delta),
        )


# ----------------------------------------------------------------------------------------------- loading


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate one fixture file.

    :raises ValueError: naming the file and what is wrong with it (bad JSON, every missing or mistyped field).
    """
    path = Path(path)
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the file must hold a JSON object")
    try:
        loaded = _SCENARIO.load(raw)
    except ValidationError as exc:
        raise ValueError(f"{path}: {_problems(exc.messages)}") from None
    return Scenario(path=path, **loaded)


def iter_scenarios(root: Path | str = Path("fhir_fixtures")) -> Iterator[Scenario]:
    """Every fixture under ``root``, recursively and sorted by path; README and non-JSON files are skipped."""
    for path in sorted(Path(root).rglob("*.json")):
        yield load_scenario(path)


# ---------------------------------------------------------------------------------------------- the format

_MISSING = "is required"


def _problems(messages: Any) -> str:
    """One clause per field: ``missing required field 'title'; field 'expect.status' must be ...``."""
    return "; ".join(
        f"missing required field '{where}'" if message == _MISSING else f"field '{where}' {message}"
        for where, message in flatten_messages(messages)
    )


def _json_name(value: Any) -> str:
    """What a JSON value is, for messages: ``an array``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {str: "a string", int: "a number", float: "a number", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


class _Json(fields.Field[Any]):
    """One JSON value of type ``kind``, returned as written: the request and resources are kept, not copied."""

    def __init__(self, kind: type, expected: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kind = kind
        self._expected = expected
        self.error_messages.update(required=_MISSING, null=f"must be {expected}, not null")

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        if not isinstance(value, self._kind) or isinstance(value, bool) and self._kind is not bool:
            raise ValidationError(f"must be {self._expected}, not {_json_name(value)}")
        return value


class _Date(_Json):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(str, "a YYYY-MM-DD date", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> date:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValidationError(f"must be a YYYY-MM-DD date, not {text!r}") from None


def _string(**kwargs: Any) -> _Json:
    return _Json(str, "a string", **kwargs)


class _Strings(fields.Field[tuple[str, ...]]):
    """An optional array of non-empty strings, each also checked by ``check`` (which returns the problem).

    One field for the whole array, not one per item: every fixture loads at each start-up (``warm_up``).
    """

    def __init__(self, check: Callable[[str], str | None] | None = None, **kwargs: Any) -> None:
        super().__init__(load_default=tuple, **kwargs)
        self._check = check
        self.error_messages.update(null="must be an array of non-empty strings, not null")

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise ValidationError(f"must be an array of non-empty strings, not {_json_name(value)}")
        problems: dict[int, list[str]] = {}
        for index, item in enumerate(value):
            if not isinstance(item, str):
                problems[index] = [f"must be a non-empty string, not {_json_name(item)}"]
            elif not item:
                problems[index] = ["must not be empty"]
            elif self._check is not None and (problem := self._check(item)) is not None:
                problems[index] = [problem]
        if problems:
            raise ValidationError(problems)
        return tuple(value)


def _object(schema: type[Schema], **kwargs: Any) -> fields.Nested:
    return fields.Nested(schema, error_messages={"required": _MISSING, "null": "must be an object, not null"},
                         **kwargs)


def _system_and_code(code: str) -> str | None:
    if code.count("|") != 1 or not all(code.split("|")):
        return f"must be written 'system|code', not {code!r}"
    return None


_CONTEXT = _Json(dict, "an object")


def _has_context(request: Mapping[str, Any]) -> None:
    if "context" not in request:
        raise ValidationError({"context": [_MISSING]})
    try:
        _CONTEXT.deserialize(request["context"])
    except ValidationError as exc:
        raise ValidationError({"context": exc.messages}) from None


def _is_resource(resource: Mapping[str, Any]) -> None:
    if not isinstance(resource.get("resourceType"), str):
        raise ValidationError("must be a FHIR resource (an object with a resourceType)")


class _FixtureSchema(Schema):
    """Unknown keys are ignored: fixtures carry ``review`` and other notes for people."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": "must be an object"}  # noqa: RUF012 - marshmallow's class-level hook


class _ExpectedCardSchema(_FixtureSchema):
    recommendation = _string(required=True)
    indicator = _string(
        required=True,
        validate=validate.OneOf(sorted(INDICATORS), error="must be one of {choices}, not {input!r}"),
    )
    suggestion_codes = _Strings(_system_and_code, data_key="suggestionCodes")
    deletes = _Strings()

    @post_load
    def _card(self, data: Mapping[str, Any], **kwargs: Any) -> ExpectedCard:
        return ExpectedCard(
            recommendation=data["recommendation"],
            indicator=data["indicator"],
            suggestion_codes=data["suggestion_codes"],
            deletes=data["deletes"],
        )


class _ExpectSchema(_FixtureSchema):
    status = _Json(int, "an HTTP status code", load_default=200,
                   validate=validate.Range(100, 599, error="must be an HTTP status code, not {input}"))
    error = _Json(str, "a string (the error code slug)", load_default=None)
    exact = _Json(bool, "true or false", load_default=False)
    cards = fields.List(
        _object(_ExpectedCardSchema),
        load_default=list,
        error_messages={"invalid": "must be an array", "null": "must be an array"},
    )
    absent = _Strings()

    @validates_schema
    def _expected_or_absent(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        clash = {card.recommendation for card in data["cards"]} & set(data["absent"])
        if clash:
            raise ValidationError(f"lists recommendation(s) {sorted(clash)} as both expected and absent")

    @post_load
    def _expectation(self, data: Mapping[str, Any], **kwargs: Any) -> Expectation:
        return Expectation(status=data["status"], error=data["error"], cards=tuple(data["cards"]),
                           absent=data["absent"], exact=data["exact"])


class _ScenarioSchema(_FixtureSchema):
    """A fixture file (``fhir_fixtures/README.md``); loads as the keyword arguments of :class:`Scenario`."""

    title = _string(required=True)
    scenario = _string(required=True)
    reference_date = _Date(required=True, data_key="referenceDate")
    service = _string(required=True)
    request = _Json(dict, "an object", required=True, validate=_has_context)
    server_resources = fields.List(
        _Json(dict, "a FHIR resource (an object with a resourceType)", validate=_is_resource),
        data_key="serverResources",
        load_default=list,
        error_messages={"invalid": "must be an array of FHIR resources (objects with a resourceType)",
                        "null": "must be an array of FHIR resources (objects with a resourceType)"},
    )
    expect = _object(_ExpectSchema, required=True)


_SCENARIO: Final = _ScenarioSchema()


# ------------------------------------------------------------------------------------------- date rolling


def roll_dates(obj: Any, delta_days: int) -> Any:
    """A deep copy of ``obj`` with every FHIR date/dateTime/instant value moved by ``delta_days`` days.

    A value is rolled when its element name is date-typed (see ``DATE_ELEMENTS`` / ``DATE_SUFFIXES``) and it
    is a valid FHIR date string; everything else (ids, codes, identifiers, narrative) is copied unchanged.
    """
    if delta_days == 0:
        return copy.deepcopy(obj)
    return _roll(obj, delta_days, is_date=False)


def _is_date_element(key: str) -> bool:
    return key in DATE_ELEMENTS or key.endswith(DATE_SUFFIXES)


def _roll(obj: Any, delta: int, *, is_date: bool) -> Any:
    if isinstance(obj, dict):
        return {k: _roll(v, delta, is_date=_is_date_element(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_roll(v, delta, is_date=is_date) for v in obj]
    if is_date and isinstance(obj, str):
        return roll_date_string(obj, delta)
    return obj


def roll_date_string(value: str, delta_days: int) -> str:
    """Move one FHIR date, dateTime or instant string by ``delta_days``, keeping its precision.

    Full dates move exactly; a time of day and timezone are kept as written. Partial dates keep their
    precision and move with the middle of the period they name (``YYYY-MM`` as the 15th, ``YYYY`` as 2 July),
    so a shift of a few days does not change them and a shift of about a month or a year does. A string that
    is not a FHIR date is returned unchanged.
    """
    match = _DATE_RE.match(value)
    if match is None:
        return value
    year = int(match["year"])
    if match["day"] is not None:
        try:
            day = date(year, int(match["month"]), int(match["day"]))
        except ValueError:
            return value
        return (day + timedelta(days=delta_days)).isoformat() + (match["time"] or "")
    if match["month"] is not None:
        month = int(match["month"])
        if not 1 <= month <= 12:
            return value
        moved = date(year, month, 15) + timedelta(days=delta_days)
        return f"{moved.year:04d}-{moved.month:02d}"
    middle = date(year, 1, 1) + timedelta(days=(366 if calendar.isleap(year) else 365) // 2)
    return f"{(middle + timedelta(days=delta_days)).year:04d}"


# ------------------------------------------------------------------------------------------ response check


def check_response(scenario: Scenario, status: int, body: Any) -> list[str]:
    """Every way the response (HTTP ``status`` and parsed JSON ``body``) misses the scenario's expectation.

    An empty list means the response passes. Messages name the recommendation ids and what was expected.
    """
    expect = scenario.expect
    problems: list[str] = []
    if status != expect.status:
        problems.append(f"expected HTTP {expect.status}, got {status}")
    if expect.error is not None:
        got = _error_code(body)
        if got != expect.error:
            problems.append(f"expected error code '{expect.error}', got {repr(got) if got else 'none'}")
    if expect.status != 200 or status != 200:
        return problems
    if not isinstance(body, dict) or not isinstance(body.get("cards"), list):
        return [*problems, "response body has no 'cards' array"]

    by_id: dict[str, list[dict[str, Any]]] = {}
    for index, card in enumerate(body["cards"]):
        rec = _recommendation(card)
        if rec is None:
            problems.append(f"card {index} has no recommendation id in source.topic.code")
            continue
        by_id.setdefault(rec, []).append(card)
    for rec, cards in by_id.items():
        if len(cards) > 1:
            problems.append(f"{len(cards)} cards for '{rec}' (at most one per recommendation)")

    for wanted in expect.cards:
        found = by_id.get(wanted.recommendation)
        if not found:
            problems.append(f"missing card '{wanted.recommendation}' ({wanted.indicator})")
            continue
        card = found[0]
        if card.get("indicator") != wanted.indicator:
            problems.append(f"card '{wanted.recommendation}': indicator {card.get('indicator')!r}, "
                            f"expected '{wanted.indicator}'")
        created, deleted = _actions(card)
        for code in wanted.suggestion_codes:
            if code not in created:
                problems.append(f"card '{wanted.recommendation}': "
                                f"no suggestion creates a resource coded {code}")
        for ref in wanted.deletes:
            if ref not in deleted:
                problems.append(f"card '{wanted.recommendation}': no suggestion deletes {ref}")

    for rec in expect.absent:
        if rec in by_id:
            problems.append(f"forbidden card '{rec}' is present")
    if expect.exact:
        allowed = {c.recommendation for c in expect.cards}
        for rec in by_id:
            if rec not in allowed and rec not in expect.absent:
                problems.append(f"unexpected card '{rec}' (the scenario lists its cards exactly)")
    return problems


def _error_code(body: Any) -> str | None:
    """The error slug of an error body.

    Accepts ``{"error": "slug"}``, ``{"error": {"code": "slug"}}`` and ``{"code": "slug"}``.
    """
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"])
    code = body.get("code")
    return code if isinstance(code, str) else None


def _recommendation(card: Any) -> str | None:
    if not isinstance(card, dict):
        return None
    source = card.get("source")
    topic = source.get("topic") if isinstance(source, dict) else None
    code = topic.get("code") if isinstance(topic, dict) else None
    return code if isinstance(code, str) and code else None


def _actions(card: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """``system|code`` of every resource a suggestion creates; ``Type/id`` of every resource it deletes."""
    created: set[str] = set()
    deleted: set[str] = set()
    for suggestion in card.get("suggestions") or []:
        if not isinstance(suggestion, dict):
            continue
        for action in suggestion.get("actions") or []:
            if not isinstance(action, dict):
                continue
            if action.get("type") == "delete":
                target = action.get("resourceId", action.get("resource"))
                targets = target if isinstance(target, list) else [target]
                deleted.update(t for t in targets if isinstance(t, str))
            elif isinstance(action.get("resource"), dict):
                created.update(_resource_codes(action["resource"]))
    return created, deleted


def _resource_codes(resource: Mapping[str, Any]) -> set[str]:
    codes: set[str] = set()
    for element in ("code", "medicationCodeableConcept"):
        concept = resource.get(element)
        if isinstance(concept, dict):
            for coding in concept.get("coding") or []:
                if isinstance(coding, dict) and coding.get("system") and coding.get("code"):
                    codes.add(f"{coding['system']}|{coding['code']}")
    return codes
