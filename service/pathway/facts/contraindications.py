"""Contraindications to manipulation by tier, anticoagulation and a vascular work-up in progress
(revision-2 C05-C07)."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from datetime import date

from service.fhir.record import ConditionFacts
from service.fhir.record import PatientRecord
from service.pathway.facts.dates import days_before
from service.pathway.facts.dates import months_before
from service.pathway.facts.findings import RECENT_MONTHS
from service.pathway.facts.findings import Finding
from service.pathway.facts.findings import _as_history
from service.pathway.facts.findings import _condition_texts
from service.pathway.facts.findings import _dated_within
from service.pathway.facts.findings import _unique
from service.pathway.facts.findings import safety_conditions
from service.pathway.facts.findings import safety_findings
from service.pathway.facts.labels import resource_label
from service.pathway.facts.order_kinds import OrderKind
from service.pathway.facts.orders import DraftOrder
from service.pathway.facts.red_flags import HEAD_INJURY
from service.pathway.facts.status import ACTIVE_MEDICATION
from service.pathway.facts.status import CURRENT_REQUEST
from service.pathway.facts.status import _status
from service.pathway.facts.status import condition_date
from service.pathway.facts.status import is_active
from service.pathway.facts.wording import _CERVICAL
from service.pathway.facts.wording import _CLINICAL_SYSTEMS
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import has_coding_in
from service.pathway.terminology import value_set


def anticoagulation(record: PatientRecord, drafts: Iterable[DraftOrder], today: date) -> tuple[Finding, ...]:
    """An active (or drafted) anticoagulant MedicationRequest, or active Z79.01 (docs/clinical/reference.md §2.2,
    §2.6)."""
    meds_vs = value_set(ValueSetId.ANTICOAGULANTS)
    status_vs = value_set(ValueSetId.ANTICOAGULATION_STATUS)
    label = "anticoagulation"
    findings = [
        Finding(
            "anticoagulation",
            label,
            m.ref,
            resource_label(m.codings, m.text),
            m.authored,
            "relative",
            matched_by_name=match.matched_by_name,
        )
        for m in record.medication_requests
        if _status(m.status) in ACTIVE_MEDICATION
        for match in [meds_vs.medication_match(m.codings, m.text)]
        if match is not None
    ]
    findings.extend(
        Finding("anticoagulation", label, d.ref, d.label, d.authored, "relative", matched_by_name=d.matched_by_name)
        for d in drafts
        if OrderKind.ANTICOAGULANT in d.kinds
    )
    findings.extend(
        Finding(
            "anticoagulation",
            label,
            c.ref,
            resource_label(c.codings, c.text, status_vs.matching(c.codings)),
            condition_date(c),
            "relative",
        )
        for c in record.conditions
        if is_active(c, today) and status_vs.contains_any(c.codings)
    )
    return _unique(findings)


#: Vascular imaging drafted or pending (revision-2 C07): a manipulation contraindication, never a red flag.
DISSECTION_WORKUP = "dissection-workup"
#: Look-back of a pending vascular study (revision-2 C07).
WORKUP_DAYS = 30


def vascular_workup(
    record: PatientRecord, drafts: Iterable[DraftOrder], today: date
) -> tuple[Finding, ...]:
    """CTA/MRA of head or neck drafted, or ordered in the last 30 days with no result yet (still active, draft or
    on hold; undated: counted): a dissection work-up is in progress (revision-2 C07)."""
    vascular_vs = value_set(ValueSetId.NEUROVASCULAR_IMAGING)
    label = "dissection work-up in progress (vascular imaging ordered, no result yet)"
    start = days_before(today, WORKUP_DAYS)
    findings = [
        Finding(DISSECTION_WORKUP, label, d.ref, d.label, d.authored, ABSOLUTE_TIER)
        for d in drafts
        if OrderKind.VASCULAR_IMAGING in d.kinds
    ]
    findings.extend(
        Finding(DISSECTION_WORKUP, label, r.ref, resource_label(r.codings, r.text), r.authored, ABSOLUTE_TIER)
        for r in record.service_requests
        if _status(r.status) in CURRENT_REQUEST
        and (r.authored is None or r.authored >= start)
        and vascular_vs.contains_any(r.codings)
    )
    return _unique(findings)


ABSOLUTE_TIER = "absolute"


def manipulation_contraindications(
    record: PatientRecord,
    today: date,
    trauma: tuple[Finding, ...],
    anticoagulated: tuple[Finding, ...],
    workup: tuple[Finding, ...] = (),
    conditions: Sequence[ConditionFacts] | None = None,
) -> tuple[Finding, ...]:
    """Contraindications by tier (docs/clinical/reference.md §2.6, revision-2 C05/C06/C07):

    active Conditions of manipulation-contraindications; Conditions of manipulation-history-contraindications
    whatever their clinical status (the label names it: "history of …, resolved 2023"); Z98.1 only with cervical
    text; dizziness dated within 12 months; recent neck trauma (absolute); anticoagulation (relative); a
    vascular work-up in progress (absolute).
    """
    counted = safety_conditions(record) if conditions is None else conditions
    active = [c for c in counted if is_active(c, today)]
    findings = safety_findings(active, value_set(ValueSetId.MANIPULATION_CONTRAINDICATIONS))
    history_vs = value_set(ValueSetId.MANIPULATION_HISTORY_CONTRAINDICATIONS)
    arthrodesis_vs = value_set(ValueSetId.ARTHRODESIS_STATUS)
    for condition in counted:
        uncoded = not has_coding_in(condition.codings, _CLINICAL_SYSTEMS)
        if uncoded or history_vs.contains_any(condition.codings):
            findings.extend(_as_history(f, condition, today) for f in safety_findings((condition,), history_vs))
        if arthrodesis_vs.contains_any(condition.codings) and _CERVICAL.search(
            " ".join(text for text in _condition_texts(condition) if text)
        ):
            findings.extend(_as_history(f, condition, today) for f in safety_findings((condition,), arthrodesis_vs))
    start = months_before(today, RECENT_MONTHS)
    findings.extend(
        safety_findings((c for c in counted if _dated_within(c, start, today)), value_set(ValueSetId.DIZZINESS))
    )
    findings.extend(
        Finding(f.category, f.label, f.ref, f.display, f.when, ABSOLUTE_TIER, f.matched_by_name)
        for f in trauma
        if f.category != HEAD_INJURY
    )
    findings.extend(anticoagulated)
    findings.extend(workup)
    return _unique(findings)
