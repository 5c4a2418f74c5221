"""The CGH diagnosis: confirmed or suspected, a refuted G44.86 (revision-2 C15), and when the headache began."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from service.fhir.record import ConditionFacts
from service.fhir.record import PatientRecord
from service.pathway.facts.dates import months_before
from service.pathway.facts.dates import years_between
from service.pathway.facts.labels import code_text
from service.pathway.facts.status import CONFIRMED
from service.pathway.facts.status import ENTERED_IN_ERROR
from service.pathway.facts.status import REFUTED
from service.pathway.facts.status import SUSPECTED_VERIFICATION
from service.pathway.facts.status import _status
from service.pathway.facts.status import condition_date
from service.pathway.facts.status import in_set
from service.pathway.facts.status import is_active
from service.pathway.terminology import ValueSet
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """CGH status (docs/clinical/reference.md §2.2 ``cgh_confirmed`` / ``cgh_suspected``)."""

    confirmed: bool
    suspected: bool
    #: The CGH Condition a referral cites (confirmed first, then specific, legacy, headache).
    principal: ConditionFacts | None
    #: Every Condition that makes CGH confirmed or suspected (trigger role ``diagnosis``).
    conditions: tuple[ConditionFacts, ...]
    #: Cervical-disorder Conditions supporting a suspected diagnosis (trigger role ``cervical-disorder``).
    cervical: tuple[ConditionFacts, ...]
    #: Why CGH is suspected, plain language (fact ``basis``).
    basis: tuple[str, ...]

    @property
    def active(self) -> bool:
        return self.confirmed or self.suspected


NO_DIAGNOSIS = Diagnosis(False, False, None, (), (), ())


def diagnosis(record: PatientRecord, today: date) -> Diagnosis:
    """Confirmed / suspected CGH from the active, counted Conditions (docs/clinical/reference.md §2.2).

    Confirmed: G44.86 (cgh-dx-specific) with verificationStatus confirmed. Suspected: (a) a specific code
    that is provisional, differential, unconfirmed or has no verificationStatus; (b) a legacy code (G44.89,
    M53.0) whatever its verification; (c) a headache Condition plus a cervical-disorder Condition.
    """
    specific = value_set(ValueSetId.CGH_DX_SPECIFIC)
    legacy = value_set(ValueSetId.CGH_DX_LEGACY)
    headache = value_set(ValueSetId.HEADACHE_SYMPTOMS)
    cervical_vs = value_set(ValueSetId.CERVICAL_DISORDERS)
    refutation = _refutation(record, specific)
    if refutation is not None and not refutation.overruled:
        # revision-2 C15: a standing refutation silences every derivation and every earlier G44.86.
        return NO_DIAGNOSIS
    active = [
        c
        for c in record.conditions
        if is_active(c, today) and (refutation is None or not in_set(specific, c) or refutation.dated_after(c))
    ]
    confirmed: list[ConditionFacts] = []
    suspected_specific: list[ConditionFacts] = []
    legacy_conditions: list[ConditionFacts] = []
    headaches: list[ConditionFacts] = []
    cervical: list[ConditionFacts] = []
    basis: list[str] = []
    for condition in active:
        verification = _status(condition.verification_status)
        if in_set(specific, condition):
            if verification == CONFIRMED:
                confirmed.append(condition)
            elif verification is None or verification in SUSPECTED_VERIFICATION:
                suspected_specific.append(condition)
                basis.append(f"{verification} diagnosis" if verification else "diagnosis without verification status")
        matched_legacy = in_set(legacy, condition)
        if matched_legacy:
            legacy_conditions.append(condition)
            basis.append(f"legacy code {code_text(matched_legacy[0])}")
        if in_set(headache, condition):
            headaches.append(condition)
        if in_set(cervical_vs, condition):
            cervical.append(condition)
    headache_with_cervical = bool(headaches and cervical)
    if headache_with_cervical:
        basis.append("headache with a cervical disorder")
    suspected = bool(suspected_specific or legacy_conditions or headache_with_cervical)
    if not confirmed and not suspected:
        return NO_DIAGNOSIS
    conditions = confirmed + suspected_specific + legacy_conditions + (headaches if headache_with_cervical else [])
    return Diagnosis(
        confirmed=bool(confirmed),
        suspected=suspected,
        principal=conditions[0],
        conditions=tuple(dict.fromkeys(conditions)),
        cervical=tuple(cervical) if suspected else (),
        basis=tuple(dict.fromkeys(basis)),
    )


@dataclass(frozen=True, slots=True)
class Refutation:
    """The refuted G44.86 Conditions of a record (revision-2 C15) and whether a later statement overrules them."""

    #: Dates of the refuted G44.86 Conditions (None: undated).
    dates: tuple[date | None, ...]
    #: A non-refuted G44.86 dated after every refutation exists.
    overruled: bool

    def dated_after(self, condition: ConditionFacts) -> bool:
        return _dated_after(condition, self.dates)


def _dated_after(condition: ConditionFacts, dates: Iterable[date | None]) -> bool:
    """Whether ``condition`` is dated after every one of ``dates`` (undated on either side: it is not)."""
    when = condition_date(condition)
    return when is not None and all(other is not None and when > other for other in dates)


def _refutation(record: PatientRecord, specific: ValueSet) -> Refutation | None:
    """revision-2 C15: a refuted G44.86 wins over derivation (headache + neck codes, legacy codes) and over
    earlier G44.86 statements, unless a later, non-refuted G44.86 exists. ``entered-in-error`` is absent: it
    neither counts nor refutes. ``None`` when nothing is refuted."""
    stated = [
        (condition, _status(condition.verification_status))
        for condition in record.conditions
        if in_set(specific, condition) and _status(condition.verification_status) != ENTERED_IN_ERROR
    ]
    dates = tuple(condition_date(condition) for condition, verification in stated if verification == REFUTED)
    if not dates:
        return None
    overruled = any(verification != REFUTED and _dated_after(condition, dates) for condition, verification in stated)
    return Refutation(dates, overruled)


@dataclass(frozen=True, slots=True)
class Onset:
    """When the CGH / headache began (docs/clinical/reference.md §2.2 ``cgh_onset``, ``new_onset``)."""

    when: date | None
    condition: ConditionFacts | None
    new: bool
    #: Age in completed years at onset (None without birth date or onset).
    age_at_onset: int | None


def onset(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> Onset:
    """Earliest onset (or recordedDate) of an active CGH, legacy or headache Condition; new if within
    ``new_onset_months`` of today."""
    sets = (
        value_set(ValueSetId.CGH_DX_SPECIFIC),
        value_set(ValueSetId.CGH_DX_LEGACY),
        value_set(ValueSetId.HEADACHE_SYMPTOMS),
    )
    dated = [
        (when, condition)
        for condition in record.conditions
        if is_active(condition, today) and any(in_set(vs, condition) for vs in sets)
        for when in [condition_date(condition)]
        if when is not None
    ]
    if not dated:
        return Onset(None, None, False, None)
    when, condition = min(dated, key=lambda item: item[0])
    birth = record.patient.birth_date if record.patient is not None else None
    return Onset(
        when=when,
        condition=condition,
        new=when >= months_before(today, thresholds.new_onset_months),
        age_at_onset=years_between(birth, when) if birth is not None else None,
    )
