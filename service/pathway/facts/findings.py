"""Safety findings from Conditions: the exclusion list, the name fallback, and how history is worded
(revision-2 C05, C08, §3)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import replace
from datetime import date

from service.fhir.record import ConditionFacts
from service.fhir.record import PatientRecord
from service.pathway.facts.labels import resource_label
from service.pathway.facts.status import _status
from service.pathway.facts.status import condition_date
from service.pathway.facts.status import is_active
from service.pathway.facts.status import is_counted
from service.pathway.facts.wording import _CLINICAL_SYSTEMS
from service.pathway.terminology import ValueSet
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import has_coding_in
from service.pathway.terminology import value_set

#: Text that records a past problem ("History of stroke", "h/o breast cancer"): a Condition recognised only by
#: name with such text is history, never a current red flag (revision-2 C08: red flags must be able to clear).
_HISTORY_WORDING = re.compile(r"\b(?:history\s+of|hx\s+of|h/o|past\s+history)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Finding:
    """One red flag, contraindication, differential or pregnancy signal, with the resource behind it."""

    category: str
    label: str
    ref: str
    display: str | None = None
    when: date | None = None
    tier: str | None = None
    #: Set when the resource was recognised by the safety name fallback (revision 2 §3): the matched term.
    matched_by_name: str | None = None


def _condition_findings(conditions: Iterable[ConditionFacts], vs: ValueSet) -> list[Finding]:
    findings = []
    for condition in conditions:
        # Dual coding (revision-2 §3): SNOMED and ICD-10-CM codings of one Condition in one group are one finding.
        seen: set[tuple[str | None, str | None, str | None]] = set()
        for coding in vs.matching(condition.codings):
            for group in vs.groups(coding):
                if (group.category, group.label, group.tier) in seen:
                    continue
                seen.add((group.category, group.label, group.tier))
                findings.append(
                    Finding(
                        category=group.category or vs.id,
                        label=group.label or vs.title,
                        ref=condition.ref,
                        display=resource_label(condition.codings, condition.text, (coding,)),
                        when=condition_date(condition),
                        tier=group.tier,
                    )
                )
    return findings


def _unique(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(dict.fromkeys(findings))


#: Look-back of the dated red flags and of dizziness (revision-2 C06, C08).
RECENT_MONTHS = 12
#: clinicalStatus words a history finding names (revision-2 C05: "history of …", "resolved 2023").
_HISTORY_STATUSES = frozenset({"inactive", "remission", "resolved"})


def _condition_texts(condition: ConditionFacts) -> tuple[str | None, ...]:
    return (condition.text, *(coding.display for coding in condition.codings))


def is_excluded(condition: ConditionFacts) -> bool:
    """On the exclusion list (C44.-, Z85.828, Z80.-, Z12.-), by any coding or, without ICD-10-CM/SNOMED coding,
    by name: left out of every safety group whatever its other codings say (revision-2 §3)."""
    exclusions = value_set(ValueSetId.RED_FLAG_EXCLUSIONS)
    if exclusions.contains_any(condition.codings):
        return True
    if has_coding_in(condition.codings, _CLINICAL_SYSTEMS):
        return False
    return exclusions.name_hit(*_condition_texts(condition)) is not None


def safety_conditions(record: PatientRecord) -> list[ConditionFacts]:
    """The Conditions the safety groups read: counted (not refuted / entered-in-error) and not excluded."""
    return [c for c in record.conditions if is_counted(c) and not is_excluded(c)]


def safety_findings(conditions: Iterable[ConditionFacts], vs: ValueSet) -> list[Finding]:
    """Findings of a safety group (revision-2 C05/C06/C08 and §3): any coding matching; a Condition with no
    ICD-10-CM or SNOMED coding matches by name (``matched_by_name``).

    Callers pass :func:`safety_conditions` only (never refuted, entered-in-error or excluded).
    """
    findings: list[Finding] = []
    for condition in conditions:
        coded = _condition_findings((condition,), vs)
        if coded or has_coding_in(condition.codings, _CLINICAL_SYSTEMS):
            findings.extend(coded)
            continue
        hit = vs.name_hit(*_condition_texts(condition))
        if hit is not None:
            findings.append(
                Finding(
                    category=hit.group.category or vs.id,
                    label=hit.group.label or vs.title,
                    ref=condition.ref,
                    display=resource_label(condition.codings, condition.text),
                    when=condition_date(condition),
                    tier=hit.group.tier,
                    matched_by_name=hit.term,
                )
            )
    return findings


def _history_worded(condition: ConditionFacts) -> bool:
    """Recognised by name only, with text that records a past problem (never true for a coded Condition)."""
    if has_coding_in(condition.codings, _CLINICAL_SYSTEMS):
        return False
    return any(text and _HISTORY_WORDING.search(text) for text in _condition_texts(condition))


def history_status(condition: ConditionFacts, today: date) -> str | None:
    """How a no-longer-active Condition ended, for the card ("resolved 2023", "in remission"); None while active."""
    if is_active(condition, today):
        return None
    status = _status(condition.clinical_status)
    word = status if status in _HISTORY_STATUSES else "resolved"
    if word == "remission":
        word = "in remission"
    if condition.abatement is not None:
        return f"{word} {condition.abatement.year}"
    return word


def _as_history(finding: Finding, condition: ConditionFacts, today: date) -> Finding:
    status = history_status(condition, today)
    if status is None:
        return finding
    display = f"{finding.display}, {status}" if finding.display else None
    return replace(finding, label=f"history of {finding.label} ({status})", display=display)


def _dated_within(condition: ConditionFacts, start: date, today: date) -> bool:
    """Dated on or after ``start``; an undated Condition only while active (the trauma-window reading)."""
    when = condition_date(condition)
    return when >= start if when is not None else is_active(condition, today)
