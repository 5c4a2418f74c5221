"""Entry point of the pathway: evaluate every rule for one moment and return the advice that fires."""

from __future__ import annotations

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
    :data:`service.pathway.rules.RULES` that applies at ``moment`` runs, unless the patient is under 18 and
    the rule is part of the adult pathway (R1; never a safety card, revision 2 C4), or a red flag is present
    and the rule escalates (R2).
    Advice is ordered critical > warning > info, and by rule order within one indicator.
    """
    facts = derive_facts(record, moment, today, thresholds)
    if facts.deceased or not facts.diagnosis.active:
        return ()
    advice: dict[str, Advice] = {}
    for rule in RULES:
        if moment not in rule.moments or rule.recommendation in advice:
            continue
        if rule.pediatric_suppressed and facts.pediatric:
            continue
        if rule.red_flag_suppressed and facts.red_flags:
            continue
        fired = rule.judge(facts)
        if fired is not None:
            advice[fired.recommendation] = fired
    return tuple(sorted(advice.values(), key=lambda item: -item.indicator.rank))
