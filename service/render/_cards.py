"""Turn ``Advice`` into CDS Hooks 2.0 cards (JSON-ready dicts) using the validated card content.

Static content was checked at start-up; per request this module fills the templates with the advice's facts,
adds the patient-specific "why", builds (and validates) the suggested FHIR resources, and orders the cards.
Nothing empty or ``null`` is ever emitted: optional parts are omitted (CDS Hooks 2.0 §Card: optional fields are
never empty or null; Inferno checks it).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any
from typing import Final

from service.errors import CdsServiceError
from service.pathway.advice import Advice
from service.pathway.advice import RecommendationId
from service.pathway.advice import Trigger
from service.render._contract import CONTRACTS
from service.render._contract import CREATE_GON_BLOCK
from service.render._contract import CREATE_PT_REFERRAL
from service.render._contract import DELETE_ORDERS
from service.render._contract import DELETE_ORDERS_WITH_PT_REFERRAL
from service.render._contract import REPLACE_WITH_PT_REFERRAL
from service.render._contract import plan
from service.render._decisions import one_card_per_decision
from service.render._library import CardContent
from service.render._library import CardLibrary
from service.render._orders import GON_BLOCK
from service.render._orders import PT_REFERRAL
from service.render._orders import validated_service_request
from service.render._text import fit_summary
from service.render._text import markdown_inline
from service.render._text import plain
from service.render._text import shorten

#: Namespace of every card and suggestion uuid (uuid5). Derived once from the base URL the service used before
#: service.canonical (uuid5 of NAMESPACE_URL and "<that base>/cds-card") and pinned, so card uuids do not change
#: with the URL scheme.
UUID_NAMESPACE: Final = uuid.UUID("a567a334-c231-5629-82ff-8eabdfa7548a")

_RELATIVE_REF = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
_PATIENT_REF = re.compile(r"^Patient/[A-Za-z0-9\-.]{1,64}$")
_CATALOGUE_ORDER: Final = {rec: index for index, rec in enumerate(CONTRACTS)}
#: Lines of "Why this card"; the rest are counted by resource type ("and 4 more: 3 Procedure, 1 Observation").
_WHY_LINES: Final = 5
#: Roles whose triggers are one course of treatment, shown as one line (count, date range, what was done).
_COURSE_ROLES: Final = frozenset({"pt-session"})
#: Kinds of session named on a course line.
_COURSE_KINDS: Final = 3
_DESCRIPTION_MAX: Final = 200


class AdviceContractError(CdsServiceError):
    """500: the pathway handed the renderer advice that breaks its declaration's card contract (a programming error).

    Raised for a missing fact (a blank one is shown as the library's ``blank_fact``), an unknown note or
    trigger role, a suggestion the card cannot offer, or two pieces of advice with the same recommendation
    id. The message names ids and keys, never patient data.
    """

    status = 500
    code = "advice-contract-violation"


def render_cards(
    advice: Sequence[Advice], library: CardLibrary, *, hook_instance: str, service_id: str
) -> list[dict[str, Any]]:
    """The CDS Hooks 2.0 cards for ``advice``, most urgent first (critical, warning, info; then by id order).

    Card and suggestion uuids are uuid5 of our namespace, ``service_id``, ``hook_instance`` and the
    recommendation id (and suggestion key): unique within a response, identical when the same invocation is
    rendered again.

    :raises AdviceContractError: if an ``Advice`` breaks the catalogue contract (see the class).
    """
    # Each message and action on one card only (service/render/_decisions.py).
    ordered = sorted(
        one_card_per_decision(advice),
        key=lambda item: (-item.indicator.rank, _CATALOGUE_ORDER[item.recommendation]),
    )
    seen: set[RecommendationId] = set()
    cards = []
    for item in ordered:
        if item.recommendation in seen:
            raise AdviceContractError(
                f"two pieces of advice for {item.recommendation.value}; at most one card per id"
            )
        seen.add(item.recommendation)
        cards.append(_card(item, library, _card_name(service_id, hook_instance, item.recommendation)))
    return cards


def suggestion_keys(
    library: CardLibrary, *, service_id: str, hook_instance: str, recommendation: RecommendationId
) -> dict[str, str]:
    """Suggestion uuid → suggestion key (``cards/`` content key) for the card :func:`render_cards` would give.

    Feedback names accepted suggestions by uuid only; the audit keeps this map so acceptance can be counted
    per suggestion across invocations.
    """
    name = _card_name(service_id, hook_instance, recommendation)
    return {
        str(uuid.uuid5(UUID_NAMESPACE, f"{name}/{key}")): key for key in library.card(recommendation).suggestions
    }


def _card_name(service_id: str, hook_instance: str, recommendation: RecommendationId) -> str:
    return f"{service_id}/{hook_instance}/{recommendation.value}"


def _card(advice: Advice, library: CardLibrary, name: str) -> dict[str, Any]:
    content = library.card(advice.recommendation)
    _check(advice, content)
    notes = [content.notes[note] for note in CONTRACTS[advice.recommendation].notes if note in advice.notes]
    summary_template = next((note.summary for note in notes if note.summary is not None), content.summary)
    # A blank fact is shown as such rather than failing the whole response (it is still a pathway bug).
    facts = {key: value if plain(value) else library.blank_fact for key, value in advice.facts.items()}
    escaped = {key: markdown_inline(value) for key, value in facts.items()}
    sections = [content.detail.render(escaped), *(note.detail.render(escaped) for note in notes)]
    # Issue 16: the data this card would have read but could not, and what to check by hand.
    sections.extend(f"**Not read:** {library.data_gaps[key]}" for key in advice.data_gaps if key in library.data_gaps)
    why = _why(advice.triggers, content)
    if why:
        sections.append(why)
    # Evidence once (issue 15): the citations are the card's links; the detail keeps only the grading line.
    if content.grading:
        sections.append(content.grading)

    card: dict[str, Any] = {
        "uuid": str(uuid.uuid5(UUID_NAMESPACE, name)),
        "summary": fit_summary(summary_template, facts),
        "indicator": advice.indicator.value,
        "detail": "\n\n".join(sections),
        "source": {
            "label": content.source_label,
            "url": content.source_url,
            "topic": {
                "system": library.recommendation_system,
                "code": advice.recommendation.value,
                # Coding.version: the content version, so feedback and figures key on (id, version).
                "version": content.version,
                "display": content.title,
            },
        },
    }
    suggestions = _suggestions(advice, content, library, name)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
    if content.override_reasons:
        card["overrideReasons"] = [
            {"system": library.override_reason_system, "code": code, "display": display}
            for code, display in content.override_reasons
        ]
    card["links"] = [{"label": ev.label, "url": ev.url, "type": "absolute"} for ev in content.evidence]
    return card


def _check(advice: Advice, content: CardContent) -> None:
    rec = advice.recommendation.value
    contract = CONTRACTS[advice.recommendation]
    unknown_notes = [note for note in advice.notes if note not in content.notes]
    if unknown_notes:
        raise AdviceContractError(
            f"{rec}: unknown note(s) {', '.join(unknown_notes)} (its declaration; cgh-cds catalogue)"
        )
    needed = [*contract.facts, *(f for note in advice.notes for f in contract.note_facts.get(note, ()))]
    missing = [fact for fact in needed if not isinstance(advice.facts.get(fact), str)]
    if missing:
        raise AdviceContractError(f"{rec}: missing fact(s) {', '.join(missing)} (its declaration; cgh-cds catalogue)")
    roles = [trigger.role for trigger in advice.triggers if trigger.role not in content.roles]
    if roles:
        raise AdviceContractError(
            f"{rec}: unknown trigger role(s) {', '.join(sorted(set(roles)))} (its declaration; cgh-cds catalogue)"
        )


def _why(triggers: tuple[Trigger, ...], content: CardContent) -> str:
    """The patient-specific "Why this card", newest first, at most five lines.

    A course of sessions is one line ("11 sessions, 3 Mar – 12 May 2025, exercise, manual therapy"); other
    triggers one line each (role label, what the record says, ``Type/id``, date, and "matched by name: …" when
    they were recognised by name). Undated triggers come last; lines past the fifth are counted by type.
    """
    if not triggers:
        return ""
    lines: list[tuple[date | None, str, tuple[str, ...]]] = []
    courses: dict[str, list[Trigger]] = {}
    for trigger in triggers:
        if trigger.role in _COURSE_ROLES:
            courses.setdefault(trigger.role, []).append(trigger)
        else:
            lines.append((trigger.when, _trigger_line(trigger, content), (trigger.ref,)))
    for role, sessions in courses.items():
        latest = max((s.when for s in sessions if s.when is not None), default=None)
        lines.append((latest, _course_line(role, sessions, content), tuple(s.ref for s in sessions)))
    lines.sort(key=lambda line: (line[0] is None, -(line[0].toordinal() if line[0] else 0)))
    shown = [text for _, text, _ in lines[:_WHY_LINES]]
    rest = [ref for _, _, refs in lines[_WHY_LINES:] for ref in refs]
    if rest:
        types = Counter(ref.split("/", 1)[0] if "/" in ref else "resource" for ref in rest)
        counted = ", ".join(f"{count} {markdown_inline(kind)}" for kind, count in types.most_common())
        shown.append(f"- and {len(rest)} more: {counted}")
    return "\n".join(["**Why this card**", "", *shown])


def _trigger_line(trigger: Trigger, content: CardContent) -> str:
    what = [markdown_inline(trigger.label)] if trigger.label and plain(trigger.label) else []
    where = [markdown_inline(trigger.ref)]
    if trigger.when is not None:
        where.append(_day(trigger.when))
    name = trigger.matched_by_name
    by_name = f" — matched by name: {markdown_inline(name)}" if name else ""
    place = ", ".join(where)
    return f"- {content.roles[trigger.role]}: {' '.join([*what, f'({place})'])}{by_name}"


def _course_line(role: str, sessions: list[Trigger], content: CardContent) -> str:
    dates = sorted({s.when for s in sessions if s.when is not None})
    count = len(dates) or len(sessions)
    parts = [f"{count} session{'s' if count != 1 else ''}"]
    if dates:
        parts.append(_day(dates[0]) if len(dates) == 1 else _span(dates[0], dates[-1]))
    # The kind of session, not its billing detail: "Therapeutic exercise", not "…, each 15 minutes".
    kinds = list(dict.fromkeys(plain(s.label).split(",")[0] for s in sessions if s.label and plain(s.label)))
    if kinds:
        named = ", ".join(markdown_inline(kind) for kind in kinds[:_COURSE_KINDS])
        more = len(kinds) - _COURSE_KINDS
        parts.append(named + (f" and {more} other kinds" if more > 0 else ""))
    names = list(dict.fromkeys(s.matched_by_name for s in sessions if s.matched_by_name))
    by_name = f" — matched by name: {', '.join(markdown_inline(n) for n in names)}" if names else ""
    return f"- {content.roles[role]}: {', '.join(parts)}{by_name}"


def _day(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _span(first: date, last: date) -> str:
    if first.year == last.year:
        return f"{first.day} {_MONTHS[first.month - 1]} – {_day(last)}"
    return f"{_day(first)} – {_day(last)}"


_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _suggestions(
    advice: Advice, content: CardContent, library: CardLibrary, name: str
) -> list[dict[str, Any]]:
    suggestions = []
    for key in plan(advice.suggestions):
        spec = content.suggestions.get(key)
        if spec is None:
            raise AdviceContractError(
                f"{advice.recommendation.value}: the card cannot offer {key} (its declaration; cgh-cds catalogue)"
            )
        actions = _actions(key, advice, library, spec.delete_description)
        if actions:
            suggestions.append(
                {
                    "uuid": str(uuid.uuid5(UUID_NAMESPACE, f"{name}/{key}")),
                    "label": spec.label,
                    "isRecommended": spec.recommended,
                    "actions": actions,
                }
            )
    return suggestions


def _actions(
    key: str, advice: Advice, library: CardLibrary, delete_description: str | None
) -> list[dict[str, Any]]:
    """The actions of one suggestion, or none when the suggestion cannot be honoured in full.

    A referral needs ``Patient/id``; a deletion needs ``Type/id`` references. If a replacement cannot both
    delete and create, it is not offered at all (half a replacement would leave the unsafe order or add a
    duplicate referral).
    """
    creates: list[dict[str, Any]] = []
    deletes: list[dict[str, Any]] = []
    if key in (CREATE_PT_REFERRAL, DELETE_ORDERS_WITH_PT_REFERRAL, REPLACE_WITH_PT_REFERRAL):
        creates = _create(PT_REFERRAL, advice, library)
        if not creates:
            return []
    elif key == CREATE_GON_BLOCK:
        creates = _create(GON_BLOCK, advice, library)
    if key in (DELETE_ORDERS, DELETE_ORDERS_WITH_PT_REFERRAL, REPLACE_WITH_PT_REFERRAL):
        deletes = _deletes(advice, delete_description or "")
        if not deletes:
            return []
    # CDS Hooks 2.0 §Suggestion: actions are processed like a FHIR transaction, deletes first.
    return [*deletes, *creates]


def _create(order_key: str, advice: Advice, library: CardLibrary) -> list[dict[str, Any]]:
    patient = advice.patient_ref
    if not patient or not _PATIENT_REF.match(patient):
        return []
    reason = advice.reason_ref if advice.reason_ref and _RELATIVE_REF.match(advice.reason_ref) else None
    order = library.orders[order_key]
    try:
        resource = validated_service_request(order, patient, reason)
    except ValueError as error:
        raise AdviceContractError(f"{advice.recommendation.value}: {error}") from None
    return [{"type": "create", "description": order.description, "resource": resource}]


def _deletes(advice: Advice, description: str) -> list[dict[str, Any]]:
    labels = {t.ref: plain(t.label) for t in advice.triggers if t.role == "drafted-order" and t.label}
    actions = []
    for ref in dict.fromkeys(advice.orders):
        if not _RELATIVE_REF.match(ref):
            continue
        what = labels.get(ref) or ref
        actions.append(
            {
                "type": "delete",
                "description": shorten(f"{description}: {what}", _DESCRIPTION_MAX),
                "resourceId": ref,
            }
        )
    return actions
