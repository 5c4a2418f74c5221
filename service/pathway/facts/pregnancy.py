"""Pregnancy, gestational age and the puerperium (revision 2 C10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.fhir.record import ConditionFacts
from service.fhir.record import PatientRecord
from service.pathway.facts.dates import months_before
from service.pathway.facts.findings import Finding
from service.pathway.facts.labels import resource_label
from service.pathway.facts.observations import _latest
from service.pathway.facts.observations import _usable
from service.pathway.facts.status import condition_date
from service.pathway.facts.status import is_active
from service.pathway.facts.status import is_counted
from service.pathway.terminology import ValueSet
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds

#: Category (and label) of a pregnancy signal and of a puerperium Condition.
PREGNANCY = "pregnancy"
PUERPERIUM = "puerperium"


@dataclass(frozen=True, slots=True)
class Pregnancy:
    """docs/clinical/reference.md §2.2 ``pregnant`` and ``gest_weeks``, as revision 2 C10 defines them."""

    pregnant: bool
    gest_weeks: int | None
    evidence: tuple[Finding, ...]
    #: Active puerperium Conditions (O85-O92): not pregnant, but a red flag with a new headache (C8, C10).
    puerperium: tuple[Finding, ...] = ()


def pregnancy(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> Pregnancy:
    """Pregnant from any signal (revision 2 C10): an active Condition in ``pregnancy`` (Z33.1, Z34.-, Z32.01,
    Z3A.-, chapter-15 O-codes other than deliveries and the puerperium, SNOMED normal pregnancy / pregnant), or
    the latest pregnancy-status Observation saying pregnant. A signal expires ``pregnancy_signal_months`` after
    its date, or at a delivery (``delivery``: Z37.-, O80, O82) dated after it; an undated Condition counts while
    active.

    ``gest_weeks``: the latest-dated current Z3A.xx, advanced by the whole weeks since its date.
    """
    pregnancy_vs = value_set(ValueSetId.PREGNANCY)
    weeks_vs = value_set(ValueSetId.GESTATIONAL_AGE)
    puerperium_vs = value_set(ValueSetId.PUERPERIUM)
    delivery_vs = value_set(ValueSetId.DELIVERY)
    deliveries = [
        when
        for c in record.conditions
        if is_counted(c) and delivery_vs.contains_any(c.codings)
        for when in [condition_date(c)]
        if when is not None and when <= today
    ]
    expired_before = months_before(today, thresholds.pregnancy_signal_months)

    def current(when: date | None) -> bool:
        if when is None:
            return True
        return when > expired_before and not any(delivered > when for delivered in deliveries)

    active = [c for c in record.conditions if is_active(c, today)]
    signals = [
        c
        for c in active
        if pregnancy_vs.contains_any(c.codings)
        and not puerperium_vs.contains_any(c.codings)
        and current(condition_date(c))
    ]
    evidence = [_condition_signal(PREGNANCY, c, pregnancy_vs) for c in signals]
    status_vs = value_set(ValueSetId.PREGNANCY_STATUS_OBSERVATION)
    latest = _latest(
        o
        for o in record.observations
        if _usable(o, today) and (o.effective or date.min) > expired_before and status_vs.contains_any(o.codings)
    )
    if latest is not None and pregnancy_vs.contains_any(latest.value_codings) and current(latest.effective):
        evidence.append(
            Finding(
                PREGNANCY,
                PREGNANCY,
                latest.ref,
                resource_label(latest.value_codings, latest.value_text),
                latest.effective,
            )
        )
    gest_weeks: int | None = None
    staged = [
        (condition_date(c), weeks)
        for c in signals
        for coding in c.codings
        for weeks in [weeks_vs.gestational_weeks(coding)]
        if weeks is not None
    ]
    if staged:
        when, weeks = max(staged, key=lambda item: item[0] or date.min)
        elapsed = (today - when).days // 7 if when is not None and when <= today else 0
        gest_weeks = weeks + elapsed
    puerperium = [
        _condition_signal(PUERPERIUM, c, puerperium_vs) for c in active if puerperium_vs.contains_any(c.codings)
    ]
    return Pregnancy(bool(evidence), gest_weeks, tuple(evidence), tuple(puerperium))


def _condition_signal(category: str, condition: ConditionFacts, vs: ValueSet) -> Finding:
    """A pregnancy or puerperium Condition as a finding, named by its coding in ``vs``."""
    return Finding(
        category,
        category,
        condition.ref,
        resource_label(condition.codings, condition.text, vs.matching(condition.codings)),
        condition_date(condition),
    )
