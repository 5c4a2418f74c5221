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
from dataclasses import dataclass

from service.pathway.advice import Advice
from service.pathway.advice import Moment
from service.pathway.advice import RecommendationId
from service.pathway.facts import Facts
from service.pathway.rules._common import ALL_MOMENTS
from service.pathway.rules._common import ORDER_MOMENTS
from service.pathway.rules._common import RECORD_REVIEW
from service.pathway.rules.botulinum_pregnancy import botulinum_pregnancy
from service.pathway.rules.differential_diagnosis import differential_diagnosis
from service.pathway.rules.escalate_occipital_nerve_block import escalate_occipital_nerve_block
from service.pathway.rules.escalate_percutaneous import escalate_percutaneous
from service.pathway.rules.escalation_premature import escalation_premature
from service.pathway.rules.imaging_not_indicated import imaging_not_indicated
from service.pathway.rules.imaging_red_flag_appropriate import imaging_red_flag_appropriate
from service.pathway.rules.manipulation_contraindicated import manipulation_contraindicated
from service.pathway.rules.manipulation_risk import manipulation_risk
from service.pathway.rules.medication_opioid import medication_opioid
from service.pathway.rules.medication_symptomatic_only import medication_symptomatic_only
from service.pathway.rules.out_of_scope_pediatric import out_of_scope_pediatric
from service.pathway.rules.pt_document_response import pt_document_response
from service.pathway.rules.pt_first_line import pt_first_line
from service.pathway.rules.pt_trial_in_progress import pt_trial_in_progress
from service.pathway.rules.red_flags import red_flags
from service.pathway.rules.refractory_options import refractory_options
from service.pathway.rules.suspected_confirm_diagnosis import suspected_confirm_diagnosis


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
