"""Entry point of the pathway: evaluate every rule for one moment and return the advice that fires."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from service.fhir.record import PatientRecord
from service.pathway.advice import Advice
from service.pathway.advice import Moment
from service.pathway.facts import derive_facts
from service.pathway.rules import RULES
from service.pathway.thresholds import PathwayThresholds


def evaluate(
    record: PatientRecord,
    moment: Moment,
    today: date,
    thresholds: PathwayThresholds | None = None,
) -> tuple[Advice, ...]:
    """All advice for ``record`` at ``moment``, at most one per recommendation id, most urgent first.

    R0 (docs/clinical/reference.md §2.3): a deceased patient, or no active CGH (confirmed or suspected; refuted and
    entered-in-error diagnoses do not count), gets no advice at all. Otherwise each rule of
    :data:`service.pathway.rules.RULES` that applies at ``moment`` runs, unless a recommendation it names in
    ``suppressed_by`` suppresses it here: the patient is under 18 and the rule is part of the adult pathway (R1;
    never a safety card, revision 2 C4), or a red flag is present and the rule escalates (R2).
    Issue 16: when an optional prefetch key could not be read (``record.unavailable``), no escalation fires
    and each card whose declaration reads that key (``data_keys``) names it (``Advice.data_gaps``).
    Advice is ordered critical > warning > info, and by rule order within one indicator.
    """
    facts = derive_facts(record, moment, today, thresholds)
    if facts.deceased or not facts.diagnosis.active:
        return ()
    unavailable = frozenset(record.unavailable)
    suppressing = frozenset(
        rule.id for rule in RULES if rule.suppresses_when is not None and rule.suppresses_when(facts)
    )
    advice: dict[str, Advice] = {}
    for rule in RULES:
        if moment not in rule.moments or rule.id in advice:
            continue
        if suppressing.intersection(rule.suppressed_by):
            continue
        if unavailable and rule.escalation:
            continue
        fired = rule.judge(facts)
        if fired is not None:
            gaps = tuple(sorted(unavailable & rule.data_keys))
            advice[fired.recommendation] = replace(fired, data_gaps=gaps) if gaps else fired
    return tuple(sorted(advice.values(), key=lambda item: -item.indicator.rank))
