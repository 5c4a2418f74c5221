"""Red flags for imaging and secondary headache, each with its time window (revision-2 C08)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from service.fhir.record import ConditionFacts
from service.fhir.record import PatientRecord
from service.pathway.facts.dates import days_before
from service.pathway.facts.dates import months_before
from service.pathway.facts.diagnosis import Onset
from service.pathway.facts.findings import RECENT_MONTHS
from service.pathway.facts.findings import Finding
from service.pathway.facts.findings import _dated_within
from service.pathway.facts.findings import _history_worded
from service.pathway.facts.findings import _unique
from service.pathway.facts.findings import history_status
from service.pathway.facts.findings import is_excluded
from service.pathway.facts.findings import safety_conditions
from service.pathway.facts.findings import safety_findings
from service.pathway.facts.labels import resource_label
from service.pathway.facts.pregnancy import Pregnancy
from service.pathway.facts.status import condition_date
from service.pathway.facts.status import is_active
from service.pathway.facts.status import is_counted
from service.pathway.facts.wording import _CLINICAL_SYSTEMS
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import has_coding_in
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds


def recent_trauma(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> tuple[Finding, ...]:
    """Trauma codes within ``trauma_window_weeks`` of today (docs/clinical/reference.md §2.2, §2.6).

    Whatever their clinical status (a resolved whiplash of three weeks ago is still recent trauma), except
    refuted / entered-in-error. Undated trauma counts only while active (the conservative reading).
    """
    vs = value_set(ValueSetId.RECENT_TRAUMA)
    window_start = days_before(today, thresholds.trauma_window_weeks * 7)
    recent = [
        condition
        for condition in record.conditions
        if is_counted(condition)
        and (
            (condition_date(condition) or date.min) >= window_start
            if condition_date(condition) is not None
            else is_active(condition, today)
        )
    ]
    return _unique(safety_findings((c for c in recent if not is_excluded(c)), vs))


#: Red-flag categories that the derived flags use (the value sets name the coded ones).
NEW_ONSET_OLDER_ADULT = "new-onset-older-adult"
PREGNANCY_NEW_HEADACHE = "pregnancy-new-headache"
TRAUMA = "trauma"
#: Head injury / concussion within the trauma window (recent-trauma): a red flag, not a contraindication.
HEAD_INJURY = "head-injury"
#: History of malignancy (Z85.-, a malignancy code no longer active) and immunosuppression (revision-2 C08).
MALIGNANCY_HISTORY = "malignancy-history"
MALIGNANCY = "malignancy"
IMMUNOSUPPRESSION = "immunosuppression"
#: Recent red flags that count only while active as well (revision-2 C08: fever).
_ACTIVE_ONLY_RECENT = frozenset({"fever"})


def new_or_changed_headache(record: PatientRecord, today: date) -> bool:
    """An active CGH, headache, neck-pain or cervical-disorder Condition dated within 12 months, or undated
    (revision-2 C08: the red flags of history need a new or changed headache or neck pain)."""
    sets = (
        value_set(ValueSetId.CGH_DX_SPECIFIC),
        value_set(ValueSetId.CGH_DX_LEGACY),
        value_set(ValueSetId.HEADACHE_SYMPTOMS),
        value_set(ValueSetId.CERVICAL_DISORDERS),
    )
    start = months_before(today, RECENT_MONTHS)
    for condition in record.conditions:
        if not is_active(condition, today) or not any(vs.contains_any(condition.codings) for vs in sets):
            continue
        when = condition_date(condition)
        if when is None or when >= start:
            return True
    return False


def imaging_history(
    record: PatientRecord, today: date, conditions: Sequence[ConditionFacts] | None = None
) -> tuple[Finding, ...]:
    """History of malignancy (Z85.-, or a malignancy code that is no longer active) and active
    immunosuppression, whatever the dates (revision-2 C08). A red flag only with a new or changed headache;
    on order hooks it always keeps an imaging order from being discouraged."""
    counted = safety_conditions(record) if conditions is None else conditions
    history_vs = value_set(ValueSetId.MALIGNANCY_HISTORY)
    red_flags_vs = value_set(ValueSetId.RED_FLAGS)
    label = history_vs.category_label(MALIGNANCY_HISTORY) or MALIGNANCY_HISTORY
    findings: list[Finding] = []
    for condition in counted:
        uncoded = not has_coding_in(condition.codings, _CLINICAL_SYSTEMS)
        status = history_status(condition, today)
        if uncoded or history_vs.contains_any(condition.codings):
            # Z85.- already says "history": the status only qualifies it ("history of malignancy (resolved)").
            findings.extend(
                replace(f, label=f"{f.label} ({status})") if status else f
                for f in safety_findings((condition,), history_vs)
            )
        if not (uncoded or red_flags_vs.contains_any(condition.codings)):
            continue
        if status is None and not _history_worded(condition):
            continue
        findings.extend(
            replace(finding, category=MALIGNANCY_HISTORY, label=f"{label} ({status})" if status else label, tier=None)
            for finding in safety_findings((condition,), red_flags_vs)
            if finding.category == MALIGNANCY
        )
    active = [c for c in counted if is_active(c, today)]
    findings.extend(safety_findings(active, value_set(ValueSetId.IMMUNOSUPPRESSION)))
    return _unique(findings)


def red_flags(
    record: PatientRecord,
    today: date,
    thresholds: PathwayThresholds,
    onset_: Onset,
    pregnancy_: Pregnancy,
    trauma: tuple[Finding, ...],
    history: tuple[Finding, ...] = (),
    conditions: Sequence[ConditionFacts] | None = None,
) -> tuple[Finding, ...]:
    """Red flags for imaging / secondary headache, each with its time window (revision-2 C08, SNNOOP10):

    - any time while active: the red-flags value set (infection, papilloedema, Horner, active or metastatic
      malignancy, deficit, myelopathy, ...);
    - dated within 12 months whatever the clinical status (undated: while active): red-flags-recent (arterial
      events, SAH, thunderclap headache; fever only while active);
    - within the trauma window: ``trauma`` (neck trauma, head injury, concussion);
    - only with a new or changed headache or neck pain: ``history`` (malignancy history, immunosuppression);
    - derived: a new onset past ``new_onset_age``; pregnancy with a new onset.

    An order is never a red flag by itself (revision-2 C07); SIH / orthostatic headache route to the differential
    card instead.
    """
    # A Condition known only by a name worded as history ("History of stroke") is no current red flag.
    safe = safety_conditions(record) if conditions is None else conditions
    counted = [c for c in safe if not _history_worded(c)]
    active = [c for c in counted if is_active(c, today)]
    findings = safety_findings(active, value_set(ValueSetId.RED_FLAGS))
    start = months_before(today, RECENT_MONTHS)
    active_refs = {c.ref for c in active}
    findings.extend(
        finding
        for finding in safety_findings(
            (c for c in counted if _dated_within(c, start, today)), value_set(ValueSetId.RED_FLAGS_RECENT)
        )
        if finding.category not in _ACTIVE_ONLY_RECENT or finding.ref in active_refs
    )
    findings.extend(trauma)
    if history and new_or_changed_headache(record, today):
        findings.extend(history)
    if (
        onset_.new
        and onset_.condition is not None
        and onset_.age_at_onset is not None
        and onset_.age_at_onset > thresholds.new_onset_age
    ):
        findings.append(
            Finding(
                NEW_ONSET_OLDER_ADULT,
                f"new headache after age {thresholds.new_onset_age}",
                onset_.condition.ref,
                resource_label(onset_.condition.codings, onset_.condition.text),
                onset_.when,
            )
        )
    if (pregnancy_.pregnant or pregnancy_.puerperium) and onset_.new and onset_.condition is not None:
        findings.append(
            Finding(
                PREGNANCY_NEW_HEADACHE,
                "new headache in pregnancy" if pregnancy_.pregnant else "new headache in the puerperium",
                onset_.condition.ref,
                resource_label(onset_.condition.codings, onset_.condition.text),
                onset_.when,
            )
        )
    return _unique(findings)
