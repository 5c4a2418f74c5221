"""The pathway's rules (docs/clinical/reference.md §2.3): one function per recommendation id, from :class:`Facts` to
``Advice``.

Each rule restates its recommendation as When / Then and answers ``None`` when it does not fire. Which
moments a rule runs at, and whether the paediatric scope (R1) or a red flag (R2) suppresses it, is declared
in :data:`RULES` beside it, so the suppressions of docs/clinical/reference.md §2.3 are visible in one table; the engine
applies them. What each rule hands to its card (facts, notes, trigger roles, suggestions) is the contract in
``CATALOGUE.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from service.fhir.record import ConditionFacts
from service.fhir.record import EncounterFacts
from service.fhir.record import ObservationFacts
from service.fhir.record import ProcedureFacts
from service.fhir.record import ServiceRequestFacts
from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import Moment
from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind
from service.pathway.advice import Trigger
from service.pathway.facts import CERVICAL
from service.pathway.facts import DISSECTION_WORKUP
from service.pathway.facts import ESCALATION_KINDS
from service.pathway.facts import HEAD_INJURY
from service.pathway.facts import IMAGING_KINDS
from service.pathway.facts import IMMUNOSUPPRESSION
from service.pathway.facts import MALIGNANCY
from service.pathway.facts import MALIGNANCY_HISTORY
from service.pathway.facts import MEDICATION_OVERUSE
from service.pathway.facts import MIGRAINE
from service.pathway.facts import NEW_ONSET_OLDER_ADULT
from service.pathway.facts import OTHER_REGION
from service.pathway.facts import PREGNANCY_NEW_HEADACHE
from service.pathway.facts import SIH
from service.pathway.facts import TRAUMA
from service.pathway.facts import DraftOrder
from service.pathway.facts import Facts
from service.pathway.facts import Finding
from service.pathway.facts import OrderKind
from service.pathway.facts import condition_date
from service.pathway.facts import resource_label
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set

ALL_MOMENTS = frozenset(Moment)
RECORD_REVIEW = frozenset({Moment.RECORD_REVIEW})
ORDER_MOMENTS = frozenset({Moment.ORDER_SELECT, Moment.ORDER_SIGN})

#: Suggestions that create a referral or order, which cites the CGH Condition as its reason.
_REFERRAL_SUGGESTIONS = frozenset(
    {
        SuggestionKind.CREATE_PT_REFERRAL,
        SuggestionKind.REPLACE_WITH_PT_REFERRAL,
        SuggestionKind.CREATE_GON_BLOCK,
    }
)

#: Red-flag categories -> red-flags card notes (CATALOGUE.md).
_RED_FLAG_NOTES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"dissection"}), "dissection-suspected"),
    (frozenset({NEW_ONSET_OLDER_ADULT}), "new-onset-older-adult"),
    (frozenset({PREGNANCY_NEW_HEADACHE}), "pregnancy-new-headache"),
    (frozenset({TRAUMA}), "post-traumatic"),
    (frozenset({HEAD_INJURY}), "head-injury"),
    (frozenset({"neurologic-deficit", "stroke", "vertebrobasilar"}), "neurologic-deficit"),
)
ABSOLUTE = "absolute"
RELATIVE = "relative"
#: Contraindication categories that drop to a warning when the manipulation orders document only a region
#: other than the neck (revision-2 C19: arterial and instability contraindications).
_NECK_ONLY_CATEGORIES = frozenset(
    {"dissection", "vascular-event", "vertebrobasilar", DISSECTION_WORKUP, "congenital-instability", "instability"}
)
#: Modality advice follows the flag (revision-2 C09, ACR Appropriateness Criteria): red-flag categories, the
#: preferred study (an imaging-studies category), the studies that also fit, and the card note that explains.
_MODALITY: tuple[tuple[frozenset[str], str, frozenset[str], str], ...] = (
    (frozenset({TRAUMA}), "ct-cervical-spine", frozenset({"ct-cervical-spine"}), "cervical-trauma"),
    (frozenset({HEAD_INJURY}), "ct-head", frozenset({"ct-head"}), "head-injury"),
    (frozenset({"dissection", "stroke", "vertebrobasilar"}), "cta-mra", frozenset({"cta-mra"}), "vascular-imaging"),
    (frozenset({"sah", "thunderclap"}), "ct-head", frozenset({"ct-head", "cta-mra"}), "sah"),
    (
        frozenset(
            {
                "myelopathy",
                "neurologic-deficit",
                "infection",
                MALIGNANCY,
                MALIGNANCY_HISTORY,
                IMMUNOSUPPRESSION,
                PREGNANCY_NEW_HEADACHE,
            }
        ),
        "mri",
        frozenset({"mri"}),
        "mri-flags",
    ),
)


# ------------------------------------------------------------------------------------------------ helpers


def _join(labels: Iterable[str], separator: str = ", ") -> str:
    return separator.join(dict.fromkeys(label for label in labels if label))


def _order_list(orders: Iterable[DraftOrder]) -> str:
    """The drafted orders by name, for the ``orders`` / ``medications`` facts."""
    return _join((order.label for order in orders), "; ")


def _unique(triggers: Iterable[Trigger]) -> tuple[Trigger, ...]:
    seen: dict[tuple[str, str], Trigger] = {}
    for trigger in triggers:
        seen.setdefault((trigger.ref, trigger.role), trigger)
    return tuple(seen.values())


def _condition_triggers(conditions: Iterable[ConditionFacts], role: str) -> list[Trigger]:
    return [Trigger(c.ref, role, resource_label(c.codings, c.text), condition_date(c)) for c in conditions]


def _diagnosis(facts: Facts) -> list[Trigger]:
    return _condition_triggers(facts.diagnosis.conditions, "diagnosis")


def _procedures(procedures: Iterable[ProcedureFacts], role: str) -> list[Trigger]:
    return [Trigger(p.ref, role, resource_label(p.codings, p.text), p.performed) for p in procedures]


def _pt_sessions(facts: Facts) -> list[Trigger]:
    """The PT course's procedures and PT visits (Encounters, revision-2 C3), role ``pt-session``."""
    visits: Iterable[EncounterFacts] = facts.pt.visits
    return [
        *_procedures(facts.pt.procedures, "pt-session"),
        *(
            Trigger(v.ref, "pt-session", resource_label(v.types, v.type_texts[0] if v.type_texts else None), v.start)
            for v in visits
        ),
    ]


def _referrals(requests: Iterable[ServiceRequestFacts]) -> list[Trigger]:
    return [Trigger(r.ref, "pt-referral", resource_label(r.codings, r.text), r.authored) for r in requests]


def _observations(observations: Iterable[ObservationFacts]) -> list[Trigger]:
    return [Trigger(o.ref, "outcome", resource_label(o.codings, None), o.effective) for o in observations]


def _findings(findings: Iterable[Finding], role: str) -> list[Trigger]:
    return [Trigger(f.ref, role, f.display or f.label, f.when, f.matched_by_name) for f in findings]


def _orders(orders: Iterable[DraftOrder]) -> list[Trigger]:
    return [Trigger(o.ref, "drafted-order", o.label, o.authored, o.matched_by_name) for o in orders]


def _prior_steps(facts: Facts) -> tuple[ProcedureFacts, ...]:
    steps = facts.steps
    return tuple(dict.fromkeys(steps.gon_blocks + steps.percutaneous + steps.refractory))


def _iso(day: date | None) -> str:
    return day.isoformat() if day is not None else "date not recorded"


def _advice(
    facts: Facts,
    recommendation: RecommendationId,
    indicator: Indicator,
    *,
    values: dict[str, str] | None = None,
    notes: Iterable[str] = (),
    triggers: Iterable[Trigger] = (),
    orders: Iterable[DraftOrder] = (),
    suggestions: Iterable[SuggestionKind] = (),
) -> Advice:
    suggested = tuple(dict.fromkeys(suggestions))
    principal = facts.diagnosis.principal
    return Advice(
        recommendation=recommendation,
        indicator=indicator,
        facts=MappingProxyType(dict(values or {})),
        notes=tuple(dict.fromkeys(notes)),
        triggers=_unique([*_diagnosis(facts), *triggers]),
        orders=tuple(dict.fromkeys(order.ref for order in orders)),
        suggestions=suggested,
        reason_ref=principal.ref if principal is not None and _REFERRAL_SUGGESTIONS & set(suggested) else None,
        patient_ref=facts.patient_ref,
    )


def _missing_trial(facts: Facts) -> str:
    """What the trial still lacks (revision-2 C1: no session-count-only alternative; C2: documented region)."""
    t = facts.thresholds
    trial = f"an adequate PT trial ({t.pt_min_sessions} sessions over {t.pt_min_weeks} weeks of treatment"
    if facts.pt.course_adequate:
        return trial + "; region of the PT course not documented)"
    return trial + ")"


def _pt_notes(facts: Facts) -> list[str]:
    """revision-2 C1, C2: what the PT course leaves undocumented."""
    pt = facts.pt
    return (["region-not-documented"] if pt.undocumented_dates and not pt.adequate else []) + (
        [] if pt.exercise_documented else ["exercise-not-documented"]
    )


# ------------------------------------------------------------------------------------------------ record review


def out_of_scope_pediatric(facts: Facts) -> Advice | None:
    """R1 ``out-of-scope-pediatric`` (docs/clinical/reference.md §2.3 R1, §2.4).

    When: CGH is active (confirmed or suspected) and the patient is younger than 18.
    Then: info: the adult pathway does not apply; revision 2 C4: only the adult-pathway cards are suppressed
    (see :class:`Rule`), every safety card still fires.
    """
    if not facts.pediatric or facts.age is None:
        return None
    return _advice(facts, RecommendationId.OUT_OF_SCOPE_PEDIATRIC, Indicator.INFO, values={"age": str(facts.age)})


def red_flags(facts: Facts) -> Advice | None:
    """R2 ``red-flags`` (docs/clinical/reference.md §2.3 R2, §2.2 red_flags, §1.8).

    When: CGH is active and any red flag is present (dissection or vascular imaging ordered, neurological
    deficit, recent neck trauma, malignancy, infection, systemic signs, immunosuppression, GCA, raised ICP,
    myelopathy, instability, new onset past the age threshold, pregnancy with a new headache).
    Then: critical: evaluate secondary causes first and hold manipulation; escalation cards (R5, R9-R11) and
    imaging-not-indicated are suppressed.
    """
    if not facts.red_flags:
        return None
    categories = {finding.category for finding in facts.red_flags}
    notes = [note for kinds, note in _RED_FLAG_NOTES if kinds & categories]
    return _advice(
        facts,
        RecommendationId.RED_FLAGS,
        Indicator.CRITICAL,
        values={"red_flags": _join(f.label for f in facts.red_flags)},
        notes=notes,
        triggers=_findings(facts.red_flags, "red-flag"),
    )


def differential_diagnosis(facts: Facts) -> Advice | None:
    """R3 ``differential-diagnosis`` (docs/clinical/reference.md §2.3 R3, §1.9).

    When: CGH is active with a competing diagnosis: migraine, tension-type headache, POTS, orthostatic
    hypotension, spontaneous intracranial hypotension / orthostatic headache, or medication-overuse headache.
    Then: info: confirm ICHD-3 11.2.1 criterion D (not better accounted for by another diagnosis). Warning,
    note ``orthostatic``, for SIH / orthostatic headache; warning, note ``medication-overuse``, for
    medication-overuse headache (revision-2 C13: plan withdrawal; taper butalbital and opioids).
    """
    if not facts.differentials:
        return None
    categories = {finding.category for finding in facts.differentials}
    orthostatic = SIH in categories
    overuse = MEDICATION_OVERUSE in categories
    notes = (
        (["orthostatic"] if orthostatic else [])
        + (["medication-overuse"] if overuse else [])
        + (["migraine"] if MIGRAINE in categories else [])
    )
    return _advice(
        facts,
        RecommendationId.DIFFERENTIAL_DIAGNOSIS,
        Indicator.WARNING if orthostatic or overuse else Indicator.INFO,
        values={"differentials": _join(f.label for f in facts.differentials)},
        notes=notes,
        triggers=_findings(facts.differentials, "differential"),
    )


def suspected_confirm_diagnosis(facts: Facts) -> Advice | None:
    """R12 ``suspected-confirm-diagnosis`` (docs/clinical/reference.md §2.3 R12, §2.2 cgh_suspected).

    When: CGH is suspected (provisional or unverified G44.86, a legacy code, or headache with a cervical
    disorder) but not confirmed, and controlled cervical medial branch blocks have not confirmed it.
    Then: info: confirm against ICHD-3 11.2.1; PT may start; step 4 needs a confirmed diagnosis. Note
    ``block-supports`` when a block has >= 50 % structured relief: it supports the diagnosis (criterion C4,
    one of the two needed) but does not confirm it (revision-2 C16).
    """
    diagnosis = facts.diagnosis
    blocks = facts.diagnostic_blocks
    if not diagnosis.suspected or diagnosis.confirmed or blocks.confirms:
        return None
    return _advice(
        facts,
        RecommendationId.SUSPECTED_CONFIRM_DIAGNOSIS,
        Indicator.INFO,
        values={"basis": _join(diagnosis.basis)},
        notes=["block-supports"] if blocks.supports else [],
        triggers=[
            *_condition_triggers(diagnosis.cervical, "cervical-disorder"),
            *_procedures(blocks.supporting, "diagnostic-block"),
        ],
    )


def pt_first_line(facts: Facts) -> Advice | None:
    """R5 ``pt-first-line`` (docs/clinical/reference.md §2.3 R5; docs/clinical/pathway.md step 1).

    When (record review): CGH is active, no red flag, no PT session in the look-back and no active PT
    referral. When (order hooks): an escalation (GON block, percutaneous, refractory, toxin) is among the
    judged orders and there is no PT in the look-back, referral or drafts (note ``escalation-ordered``).
    PT sessions without a documented region count as PT under way; sessions for another region do not
    (revision-2 C2, note ``other-region``); a completed PT referral counts (revision-2 C3).
    Then: info: PT for 8-12 weeks first; suggest a PT referral citing the CGH Condition. Note ``prior-block``
    when a block or later step was done without PT.
    """
    if facts.pt_planned:
        return None
    prior = _prior_steps(facts)
    notes = ["prior-block"] if prior else []
    if facts.pt.other_region:
        notes.append("other-region")
    escalations: tuple[DraftOrder, ...] = ()
    if facts.moment is not Moment.RECORD_REVIEW:
        escalations = facts.judged_escalations(*ESCALATION_KINDS)
        if not escalations:
            return None
        notes.append("escalation-ordered")
    return _advice(
        facts,
        RecommendationId.PT_FIRST_LINE,
        Indicator.INFO,
        notes=notes,
        triggers=[*_procedures(prior, "prior-procedure"), *_orders(escalations)],
        orders=escalations,
        suggestions=[SuggestionKind.CREATE_PT_REFERRAL],
    )


def _pt_values(facts: Facts) -> dict[str, str]:
    return {"pt_weeks": str(facts.pt.weeks), "pt_sessions": str(facts.pt.sessions)}


def pt_trial_in_progress(facts: Facts) -> Advice | None:
    """R6 ``pt-trial-in-progress`` (docs/clinical/reference.md §2.3 R6, §2.2 adequate_pt_trial).

    When: at least one PT session-date of the course in the look-back and the course is not yet adequate
    (>= 6 session-dates over >= 8 weeks of treatment, first to last session; configurable; revision-2 C1).
    Then: info: trial in progress (weeks of treatment and session-dates shown); reassess at 8-12 weeks. Note
    ``stopped`` when the last session is >= 4 weeks ago ("no session since ...; resume or document why it
    stopped"), ``region-not-documented`` (C2), ``exercise-not-documented`` (C1).
    """
    pt = facts.pt
    if pt.sessions < 1 or pt.course_adequate:
        return None
    limits = facts.thresholds
    return _advice(
        facts,
        RecommendationId.PT_TRIAL_IN_PROGRESS,
        Indicator.INFO,
        values={
            **_pt_values(facts),
            "pt_first": _iso(pt.first),
            "pt_last": _iso(pt.last),
            "min_weeks": str(limits.pt_min_weeks),
            "min_sessions": str(limits.pt_min_sessions),
        },
        notes=(["stopped"] if pt.stopped else []) + _pt_notes(facts),
        triggers=_pt_sessions(facts),
    )


def pt_document_response(facts: Facts) -> Advice | None:
    """``pt-document-response`` (docs/clinical/reference.md §2.2 inadequate_response: "if no outcome data exist, do not
    infer failure").

    When: the PT course is adequate but there is no usable outcome data (no explicit response, or no
    baseline and 8-week follow-up headache frequency, note ``no-outcome``), or the response is inadequate but
    the course's region is not documented, so it cannot count for escalation (note ``region-not-documented``,
    revision-2 C2); or a PT referral was completed in the look-back and none of its sessions is on record
    (note ``course-completed``, revision-2 C3).
    Then: info: document the response (and the region, the sessions) before any escalation (the service never
    escalates without it).
    """
    pt = facts.pt
    if pt.sessions == 0 and pt.completed_referrals:
        return _advice(
            facts,
            RecommendationId.PT_DOCUMENT_RESPONSE,
            Indicator.INFO,
            values=_pt_values(facts),
            notes=["course-completed"],
            triggers=_referrals(pt.completed_referrals),
        )
    outcome = facts.outcome
    if not pt.course_adequate or (outcome.has_data and (pt.adequate or not outcome.inadequate)):
        return None
    return _advice(
        facts,
        RecommendationId.PT_DOCUMENT_RESPONSE,
        Indicator.INFO,
        values=_pt_values(facts),
        notes=([] if outcome.has_data else ["no-outcome"]) + _pt_notes(facts),
        triggers=_pt_sessions(facts),
    )


def _failed_trial(facts: Facts) -> bool:
    """An adequate PT trial with a documented inadequate response (the gate of every escalation).

    ``pt.adequate`` counts documented head / neck sessions only: PT without a documented region never
    unlocks escalation (revision-2 C2).
    """
    return facts.pt.adequate and facts.outcome.has_data and facts.outcome.inadequate


def escalate_occipital_nerve_block(facts: Facts) -> Advice | None:
    """R9 ``escalate-occipital-nerve-block`` (docs/clinical/reference.md §2.3 R9; docs/clinical/pathway.md step 2).

    When: no red flag, adequate PT trial, documented inadequate response, and no GON block (nor a later step)
    done yet.
    Then: info: consider a greater occipital nerve block (short-term relief; its relief can support, never
    establish, the diagnosis: revision-2 §2); suggest the block order citing the CGH Condition.
    """
    if not _failed_trial(facts) or facts.steps.step2_done or facts.steps.step3_done:
        return None
    return _advice(
        facts,
        RecommendationId.ESCALATE_OCCIPITAL_NERVE_BLOCK,
        Indicator.INFO,
        values={**_pt_values(facts), "response": facts.outcome.response or ""},
        notes=[] if facts.pt.exercise_documented else ["exercise-not-documented"],
        triggers=[*_pt_sessions(facts), *_observations(facts.outcome.observations)],
        suggestions=[SuggestionKind.CREATE_GON_BLOCK],
    )


def escalate_percutaneous(facts: Facts) -> Advice | None:
    """R10 ``escalate-percutaneous`` (docs/clinical/reference.md §2.3 R10; docs/clinical/pathway.md step 3).

    When: no red flag, adequate PT trial, GON block done, response still inadequate, no percutaneous step yet.
    Then: info: consider cervical facet / medial branch blocks or a cervical epidural steroid injection;
    note ``anticoagulated`` (bleeding-risk management) when the patient is anticoagulated.
    """
    steps = facts.steps
    if not _failed_trial(facts) or not steps.step2_done or steps.step3_done:
        return None
    block = steps.last_gon_block
    return _advice(
        facts,
        RecommendationId.ESCALATE_PERCUTANEOUS,
        Indicator.INFO,
        values={
            "block_date": _iso(block.performed if block is not None else None),
            "response": facts.outcome.response or "",
        },
        notes=["anticoagulated"] if facts.anticoagulation else [],
        triggers=[*_procedures(steps.gon_blocks, "prior-procedure"), *_observations(facts.outcome.observations)],
    )


def refractory_options(facts: Facts) -> Advice | None:
    """R11 ``refractory-options`` (docs/clinical/reference.md §2.3 R11; docs/clinical/pathway.md step 4).

    When: no red flag, confirmed diagnosis (a confirmed G44.86, or >= 80 % relief on controlled cervical medial
    branch blocks: revision-2 C16), adequate PT trial, percutaneous step done, response still inadequate.
    Then: info: RF neurotomy, botulinum toxin A (weak evidence), surgical decompression referral.
    """
    if not _failed_trial(facts) or not facts.steps.step3_done or not facts.confirmed_for_step4:
        return None
    return _advice(
        facts,
        RecommendationId.REFRACTORY_OPTIONS,
        Indicator.INFO,
        values={"response": facts.outcome.response or ""},
        triggers=[*_procedures(_prior_steps(facts), "prior-procedure"), *_observations(facts.outcome.observations)],
    )


# ------------------------------------------------------------------------------------------------ order hooks


def imaging_not_indicated(facts: Facts) -> Advice | None:
    """R4 ``imaging-not-indicated`` (docs/clinical/reference.md §2.3 R4, §1.5; ACR AC Headache).

    When: cervical-spine or head imaging is among the judged orders and there is no red flag (vascular
    imaging is itself a red flag: dissection suspected).
    Then: warning: imaging does not diagnose CGH; suggest deleting the drafted orders, and when there is no
    PT yet (note ``no-pt-yet``) propose a PT referral too.
    """
    orders = facts.judged(OrderKind.SPINE_IMAGING, OrderKind.HEAD_IMAGING)
    # revision-2 C08: a history of malignancy or immunosuppression never lets imaging be discouraged.
    if not orders or facts.red_flags or facts.imaging_history:
        return None
    no_pt = not facts.pt_planned
    suggestions = [SuggestionKind.DELETE_ORDERS] + ([SuggestionKind.CREATE_PT_REFERRAL] if no_pt else [])
    return _advice(
        facts,
        RecommendationId.IMAGING_NOT_INDICATED,
        Indicator.WARNING,
        values={"orders": _order_list(orders)},
        notes=["no-pt-yet"] if no_pt else [],
        triggers=_orders(orders),
        orders=orders,
        suggestions=suggestions,
    )


def _modality_advice(flags: tuple[Finding, ...], orders: tuple[DraftOrder, ...]) -> tuple[list[str], list[str]]:
    """The card notes for the flags present, and the preferred studies the drafted orders do not match
    (revision-2 C09: when the drafted study differs from the preferred one, the card names the preferred one)."""
    categories = {finding.category for finding in flags}
    drafted = frozenset(study for order in orders for study in order.studies)
    studies_vs = value_set(ValueSetId.IMAGING_STUDIES)
    notes: list[str] = []
    preferred: list[str] = []
    for flag_categories, study, fitting, note in _MODALITY:
        if not flag_categories & categories:
            continue
        notes.append(note)
        if not drafted & fitting:
            preferred.append(studies_vs.category_label(study) or study)
    return notes, preferred


def imaging_red_flag_appropriate(facts: Facts) -> Advice | None:
    """R4b ``imaging-red-flag-appropriate`` (docs/clinical/reference.md §2.3 R4b, §2.5; revision-2 C08, C09; ACR AC).

    When: imaging (cervical spine, head, or CTA/MRA) is among the judged orders and a red flag is present, or a
    history of malignancy or immunosuppression is recorded whatever the dates (note ``history-only`` when that
    history is all there is).
    Then: info: imaging is appropriate; the modality follows the flag (notes ``cervical-trauma``,
    ``head-injury``, ``vascular-imaging``, ``sah``, ``mri-flags``, ``pregnancy-mri``); when the drafted study
    differs from the preferred one, note ``preferred-study`` names it (fact ``preferred_study``).
    """
    orders = facts.judged(*IMAGING_KINDS)
    flags = facts.red_flags or facts.imaging_history
    if not orders or not flags:
        return None
    notes, preferred = _modality_advice(flags, orders)
    values = {"red_flags": _join(f.label for f in flags), "orders": _order_list(orders)}
    if preferred:
        values["preferred_study"] = _join(preferred, "; ")
        notes.insert(0, "preferred-study")
    if facts.pregnancy.pregnant:
        notes.append("pregnancy-mri")
    if not facts.red_flags:
        notes.append("history-only")
    return _advice(
        facts,
        RecommendationId.IMAGING_RED_FLAG_APPROPRIATE,
        Indicator.INFO,
        values=values,
        notes=notes,
        triggers=[*_findings(flags, "red-flag"), *_orders(orders)],
        orders=orders,
    )


def _manipulation_name(orders: tuple[DraftOrder, ...]) -> str:
    """"Cervical manipulation" only when an order documents the neck; else "Spinal manipulation" (C19)."""
    return "Cervical manipulation" if any(order.region == CERVICAL for order in orders) else "Spinal manipulation"


def manipulation_contraindicated(facts: Facts) -> Advice | None:
    """R7 ``manipulation-contraindicated`` (docs/clinical/reference.md §2.3 R7, §2.6; revision-2 C05, C06, C07, C19).

    When: spinal manipulation (chiropractic/osteopathic manipulation, or a PT order documenting a cervical
    thrust) is among the judged orders and there is a contraindication (active, or history for the C05 groups:
    "history of …, resolved 2023") or a red flag.
    Then: critical (note ``absolute``) for an absolute-tier contraindication (dissection, stroke/TIA,
    vertebro-basilar disease, Down syndrome / congenital instability, recent neck trauma, myelopathy, spinal
    malignancy or infection, neurological signs, a vascular work-up in progress: note ``workup``); otherwise
    warning (note ``relative``). When every manipulation order documents only a region other than the neck,
    arterial and instability contraindications drop to the warning tier (note ``other-region``). Suggest
    replacing it with a PT referral.
    """
    orders = facts.judged(OrderKind.MANIPULATION)
    if not orders or not (facts.contraindications or facts.red_flags):
        return None
    other_region = all(order.region == OTHER_REGION for order in orders)

    def tier(finding: Finding) -> str | None:
        if other_region and finding.category in _NECK_ONLY_CATEGORIES:
            return RELATIVE
        return finding.tier

    absolute = any(tier(f) == ABSOLUTE for f in facts.contraindications)
    reasons = [f.label for f in facts.contraindications if tier(f) == ABSOLUTE]
    reasons += [f.label for f in facts.contraindications if tier(f) != ABSOLUTE]
    reasons += [f.label for f in facts.red_flags]
    notes = [ABSOLUTE if absolute else RELATIVE]
    if any(f.category == DISSECTION_WORKUP for f in facts.contraindications):
        notes.append("workup")
    if other_region and any(f.category in _NECK_ONLY_CATEGORIES for f in facts.contraindications):
        notes.append("other-region")
    return _advice(
        facts,
        RecommendationId.MANIPULATION_CONTRAINDICATED,
        Indicator.CRITICAL if absolute else Indicator.WARNING,
        values={"reasons": _join(reasons), "orders": _order_list(orders), "manipulation": _manipulation_name(orders)},
        notes=notes,
        triggers=[
            *_findings(facts.contraindications, "contraindication"),
            *_findings(facts.red_flags, "red-flag"),
            *_orders(orders),
        ],
        orders=orders,
        suggestions=[SuggestionKind.REPLACE_WITH_PT_REFERRAL],
    )


def manipulation_risk(facts: Facts) -> Advice | None:
    """R7b ``manipulation-risk`` (docs/clinical/reference.md §2.3 R7b; Fernández-de-las-Peñas & Cuadrado 2014;
    revision-2 C19).

    When: spinal manipulation is among the judged orders with no contraindication and no red flag.
    Then: info: rare serious harms are reported; lower-risk techniques are preferred where the evidence is
    equivalent; screen per IFOMPT first. "Cervical" only when an order documents the neck.
    """
    orders = facts.judged(OrderKind.MANIPULATION)
    if not orders or facts.contraindications or facts.red_flags:
        return None
    return _advice(
        facts,
        RecommendationId.MANIPULATION_RISK,
        Indicator.INFO,
        values={"orders": _order_list(orders), "manipulation": _manipulation_name(orders)},
        triggers=_orders(orders),
        orders=orders,
    )


#: Under this age codeine and tramadol are contraindicated (FDA 2017 Drug Safety Communication; revision 2 C4).
CODEINE_TRAMADOL_CONTRAINDICATED_AGE = 12


def medication_opioid(facts: Facts) -> Advice | None:
    """R8 ``medication-opioid`` (docs/clinical/reference.md §2.3 R8, §1.7; revision 2 C4, C12).

    When: an opioid or a butalbital product is among the judged orders (treatment of opioid use disorder is
    not an opioid order: see :func:`service.pathway.facts.classify`).
    Then: warning: no medication is consistently effective for CGH; avoid opioids; PT first. Note
    ``butalbital`` (avoid; high risk of medication-overuse headache) for butalbital products. Under 18, note
    ``codeine-tramadol-child`` for codeine or tramadol (FDA 2017), critical under 12 (contraindicated).
    """
    orders = facts.judged(OrderKind.OPIOID, OrderKind.BUTALBITAL)
    if not orders:
        return None
    notes: list[str] = []
    indicator = Indicator.WARNING
    if facts.pediatric and facts.age is not None and any(OrderKind.CODEINE_TRAMADOL in o.kinds for o in orders):
        notes.append("codeine-tramadol-child")
        if facts.age < CODEINE_TRAMADOL_CONTRAINDICATED_AGE:
            indicator = Indicator.CRITICAL
    if any(OrderKind.BUTALBITAL in o.kinds for o in orders):
        notes.append("butalbital")
    return _advice(
        facts,
        RecommendationId.MEDICATION_OPIOID,
        indicator,
        values={"medications": _order_list(orders)},
        notes=notes,
        triggers=_orders(orders),
        orders=orders,
    )


def medication_symptomatic_only(facts: Facts) -> Advice | None:
    """R8b ``medication-symptomatic-only`` (docs/clinical/reference.md §2.3 R8b, §2.5; revision 2 C10; FDA 2020 NSAID
    communication).

    When: an NSAID or paracetamol (not an opioid or butalbital combination, which R8 answers) is among the
    judged orders. Aspirin at <= 150 mg a day is not an analgesic order and never gets here.
    Then: info: symptomatic relief only. In pregnancy, warning for an NSAID at >= 20 weeks' gestation (note
    ``nsaid-pregnancy``, fact ``gest_weeks``) or when gestational age is not recorded (note
    ``nsaid-pregnancy-weeks-unknown``); aspirin of unknown strength is never that warning, only note
    ``aspirin-prophylaxis`` (continue if prescribed as prophylaxis).
    """
    combined = {OrderKind.OPIOID, OrderKind.BUTALBITAL}
    orders = tuple(o for o in facts.judged(OrderKind.NSAID, OrderKind.PARACETAMOL) if not combined & o.kinds)
    if not orders:
        return None
    pregnant = facts.pregnancy.pregnant
    weeks = facts.pregnancy.gest_weeks
    unknown_aspirin = [o for o in orders if OrderKind.ASPIRIN in o.kinds and o.aspirin_mg_per_day is None]
    nsaids = [o for o in orders if OrderKind.NSAID in o.kinds and o not in unknown_aspirin]
    from_weeks = facts.thresholds.nsaid_pregnancy_weeks
    nsaid_warning = pregnant and bool(nsaids) and (weeks is None or weeks >= from_weeks)
    values = {"medications": _order_list(orders)}
    notes: list[str] = []
    if nsaid_warning and weeks is not None:
        values["gest_weeks"] = str(weeks)
        notes.append("nsaid-pregnancy")
    elif nsaid_warning:
        notes.append("nsaid-pregnancy-weeks-unknown")
    if pregnant and unknown_aspirin:
        notes.append("aspirin-prophylaxis")
    pregnancy_triggers = _findings(facts.pregnancy.evidence, "pregnancy") if notes else []
    return _advice(
        facts,
        RecommendationId.MEDICATION_SYMPTOMATIC_ONLY,
        Indicator.WARNING if nsaid_warning else Indicator.INFO,
        values=values,
        notes=notes,
        triggers=[*_orders(orders), *pregnancy_triggers],
        orders=orders,
    )


def escalation_premature(facts: Facts) -> Advice | None:
    """R9b / R10b / R11b ``escalation-premature`` (docs/clinical/reference.md §2.3; docs/clinical/pathway.md
    "Sequencing").

    When: among the judged orders, a GON block without an adequate PT trial (R9b); a percutaneous
    intervention without an adequate PT trial and a GON block (R10b); RF, surgery or botulinum toxin without a
    confirmed diagnosis and a completed percutaneous step (R11b); any of them after an adequate trial whose
    latest response is adequate (revision-2 C17: the current step is working). Earlier steps count within 24
    months and with a cervical site (facts.steps). A toxin order for another condition is not judged (C18).
    Then: warning naming the early orders, which step each is (notes ``gon-block``, ``percutaneous``,
    ``refractory``, ``current-step-working`` with fact ``latest_response``) and what the pathway still lacks (fact
    ``missing``).
    """
    pt_adequate = facts.pt.adequate
    steps = facts.steps
    early: list[DraftOrder] = []
    notes: list[str] = []
    missing: list[str] = []
    values: dict[str, str] = {}
    working = pt_adequate and facts.outcome.has_data and not facts.outcome.inadequate
    escalations = facts.judged_escalations(*ESCALATION_KINDS)
    if working and escalations:
        early += escalations
        notes.append("current-step-working")
        missing.append("an inadequate response to the current step")
        values["latest_response"] = facts.outcome.response or ""
    gon = facts.judged_escalations(OrderKind.GON_BLOCK)
    if gon and not pt_adequate:
        early += gon
        notes.append("gon-block")
        missing.append(_missing_trial(facts))
    percutaneous = facts.judged_escalations(OrderKind.PERCUTANEOUS)
    if percutaneous and not (pt_adequate and steps.step2_done):
        early += percutaneous
        notes.append("percutaneous")
        missing += ([] if pt_adequate else [_missing_trial(facts)]) + (
            [] if steps.step2_done else ["a greater occipital nerve block"]
        )
    refractory = facts.judged_escalations(OrderKind.REFRACTORY, OrderKind.TOXIN)
    if refractory and not (facts.confirmed_for_step4 and steps.step3_done):
        early += refractory
        notes.append("refractory")
        missing += ([] if facts.confirmed_for_step4 else ["a confirmed diagnosis (ICHD-3 11.2.1)"]) + (
            [] if steps.step3_done else ["a completed percutaneous step (facet or epidural injection)"]
        )
    if not early:
        return None
    early = list(dict.fromkeys(early))
    return _advice(
        facts,
        RecommendationId.ESCALATION_PREMATURE,
        Indicator.WARNING,
        values={"orders": _join((o.label for o in early), "; "), "missing": _join(missing, "; "), **values},
        notes=notes,
        triggers=[
            *_orders(early),
            *_pt_sessions(facts),
            *_procedures(_prior_steps(facts), "prior-procedure"),
            *(_observations(facts.outcome.observations) if working else []),
        ],
        orders=early,
    )


def botulinum_pregnancy(facts: Facts) -> Advice | None:
    """R11c ``botulinum-pregnancy`` (docs/clinical/reference.md §2.3 R11c, §2.5).

    When: botulinum toxin is among the judged orders and the patient is pregnant.
    Then: warning: limited human pregnancy data; defer elective use.
    """
    orders = facts.judged(OrderKind.TOXIN)
    if not orders or not facts.pregnancy.pregnant:
        return None
    return _advice(
        facts,
        RecommendationId.BOTULINUM_PREGNANCY,
        Indicator.WARNING,
        values={"orders": _order_list(orders)},
        triggers=[*_orders(orders), *_findings(facts.pregnancy.evidence, "pregnancy")],
        orders=orders,
    )


# ------------------------------------------------------------------------------------------------ the table


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule and where it applies (docs/clinical/reference.md §2.3 suppressions)."""

    number: str
    recommendation: RecommendationId
    moments: frozenset[Moment]
    #: R1 as revision 2 C4 narrows it: only the adult pathway (pt-first-line, pt-trial-in-progress,
    #: pt-document-response, escalate-*, refractory-options, suspected-confirm-diagnosis, imaging-not-indicated)
    #: is left out under 18; every safety card still fires.
    pediatric_suppressed: bool
    #: R2: red flags suppress escalation (R5, R9, R10, R11) and imaging-not-indicated (R4).
    red_flag_suppressed: bool
    judge: Callable[[Facts], Advice | None]


#: Every rule, in evaluation order (which is also the tie-break order of advice of equal urgency).
RULES: tuple[Rule, ...] = (
    Rule("R1", RecommendationId.OUT_OF_SCOPE_PEDIATRIC, ALL_MOMENTS, False, False, out_of_scope_pediatric),
    Rule("R2", RecommendationId.RED_FLAGS, ALL_MOMENTS, False, False, red_flags),
    Rule("R3", RecommendationId.DIFFERENTIAL_DIAGNOSIS, RECORD_REVIEW, False, False, differential_diagnosis),
    Rule("R12", RecommendationId.SUSPECTED_CONFIRM_DIAGNOSIS, RECORD_REVIEW, True, False, suspected_confirm_diagnosis),
    Rule("R5", RecommendationId.PT_FIRST_LINE, ALL_MOMENTS, True, True, pt_first_line),
    Rule("R6", RecommendationId.PT_TRIAL_IN_PROGRESS, RECORD_REVIEW, True, False, pt_trial_in_progress),
    Rule("2.2", RecommendationId.PT_DOCUMENT_RESPONSE, RECORD_REVIEW, True, False, pt_document_response),
    Rule(
        "R9", RecommendationId.ESCALATE_OCCIPITAL_NERVE_BLOCK, RECORD_REVIEW, True, True, escalate_occipital_nerve_block
    ),
    Rule("R10", RecommendationId.ESCALATE_PERCUTANEOUS, RECORD_REVIEW, True, True, escalate_percutaneous),
    Rule("R11", RecommendationId.REFRACTORY_OPTIONS, RECORD_REVIEW, True, True, refractory_options),
    Rule("R4", RecommendationId.IMAGING_NOT_INDICATED, ORDER_MOMENTS, True, True, imaging_not_indicated),
    Rule(
        "R4b", RecommendationId.IMAGING_RED_FLAG_APPROPRIATE, ORDER_MOMENTS, False, False, imaging_red_flag_appropriate
    ),
    Rule(
        "R7", RecommendationId.MANIPULATION_CONTRAINDICATED, ORDER_MOMENTS, False, False, manipulation_contraindicated
    ),
    Rule("R7b", RecommendationId.MANIPULATION_RISK, ORDER_MOMENTS, False, False, manipulation_risk),
    Rule("R8", RecommendationId.MEDICATION_OPIOID, ORDER_MOMENTS, False, False, medication_opioid),
    Rule("R8b", RecommendationId.MEDICATION_SYMPTOMATIC_ONLY, ORDER_MOMENTS, False, False, medication_symptomatic_only),
    Rule("R9b/R10b/R11b", RecommendationId.ESCALATION_PREMATURE, ORDER_MOMENTS, False, False, escalation_premature),
    Rule("R11c", RecommendationId.BOTULINUM_PREGNANCY, ORDER_MOMENTS, False, False, botulinum_pregnancy),
)
