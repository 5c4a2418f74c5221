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

Stdlib and orjson only: no Flask, no FHIR models, nothing from the pathway.
"""

from __future__ import annotations

import calendar
import copy
import re
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import date
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

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

    :raises ValueError: naming the file and what is wrong with it (bad JSON, a missing or mistyped field).
    """
    path = Path(path)
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return _parse(path, raw)
    except _FixtureError as exc:
        raise ValueError(f"{path}: {exc}") from None


def iter_scenarios(root: Path | str = Path("fhir_fixtures")) -> Iterator[Scenario]:
    """Every fixture under ``root``, recursively and sorted by path; README and non-JSON files are skipped."""
    for path in sorted(Path(root).rglob("*.json")):
        yield load_scenario(path)


class _FixtureError(Exception):
    pass


def _require(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    if key not in raw:
        raise _FixtureError(f"missing required field '{where}{key}'")
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _FixtureError(f"field '{where}{key}' must be {_article(expected)}, not {type(value).__name__}")
    return value


def _article(name: str) -> str:
    return {"dict": "an object", "list": "an array", "str": "a string", "int": "an integer",
            "bool": "a boolean"}.get(name, name)


def _str_list(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = raw.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise _FixtureError(f"field '{where}{key}' must be an array of non-empty strings")
    return tuple(values)


def _parse(path: Path, raw: Any) -> Scenario:
    if not isinstance(raw, dict):
        raise _FixtureError("the file must hold a JSON object")
    title = _require(raw, "title", str)
    scenario = _require(raw, "scenario", str)
    ref = _require(raw, "referenceDate", str)
    try:
        reference_date = date.fromisoformat(ref)
    except ValueError:
        raise _FixtureError(f"referenceDate '{ref}' is not a YYYY-MM-DD date") from None
    service = _require(raw, "service", str)
    request = _require(raw, "request", dict)
    _require(request, "context", dict, "request.")
    server_resources = raw.get("serverResources", [])
    if not isinstance(server_resources, list) or not all(
        isinstance(r, dict) and isinstance(r.get("resourceType"), str) for r in server_resources
    ):
        raise _FixtureError("field 'serverResources' must be an array of FHIR resources "
                            "(objects with a resourceType)")
    expect = _parse_expect(_require(raw, "expect", dict))
    return Scenario(path=path, title=title, scenario=scenario, reference_date=reference_date, service=service,
                    request=request, server_resources=server_resources, expect=expect)


def _parse_expect(raw: Mapping[str, Any]) -> Expectation:
    status = raw.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise _FixtureError("field 'expect.status' must be an HTTP status code")
    error = raw.get("error")
    if error is not None and not isinstance(error, str):
        raise _FixtureError("field 'expect.error' must be a string (the error code slug)")
    exact = raw.get("exact", False)
    if not isinstance(exact, bool):
        raise _FixtureError("field 'expect.exact' must be true or false")
    cards_raw = raw.get("cards", [])
    if not isinstance(cards_raw, list):
        raise _FixtureError("field 'expect.cards' must be an array")
    cards = []
    for i, item in enumerate(cards_raw):
        where = f"expect.cards[{i}]."
        if not isinstance(item, dict):
            raise _FixtureError(f"'expect.cards[{i}]' must be an object")
        indicator = _require(item, "indicator", str, where)
        if indicator not in INDICATORS:
            raise _FixtureError(f"'{where}indicator' must be one of {sorted(INDICATORS)}, not '{indicator}'")
        cards.append(ExpectedCard(
            recommendation=_require(item, "recommendation", str, where),
            indicator=indicator,
            suggestion_codes=_str_list(item, "suggestionCodes", where),
            deletes=_str_list(item, "deletes", where),
        ))
    for code in (c for card in cards for c in card.suggestion_codes):
        if code.count("|") != 1 or not all(code.split("|")):
            raise _FixtureError(f"suggestion code '{code}' must be written 'system|code'")
    absent = _str_list(raw, "absent", "expect.")
    clash = {c.recommendation for c in cards} & set(absent)
    if clash:
        raise _FixtureError(f"recommendation(s) {sorted(clash)} are both expected and absent")
    return Expectation(status=status, error=error, cards=tuple(cards), absent=absent, exact=exact)


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
