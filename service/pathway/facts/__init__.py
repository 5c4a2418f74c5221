"""Derived facts of the pathway (docs/clinical/reference.md §2.2): pure functions of a record, the moment and today.

Each fact is its own small function so it can be tested at its edges; :func:`derive_facts` computes them all
once per evaluation into one frozen :class:`Facts`, which the rules read. Clinical codes come only from the
value sets (:mod:`service.pathway.terminology`). Nothing here raises on odd data: missing dates, unknown
statuses and empty codings simply make a fact false or unknown.


The facts are a package of small modules, one job each; this module re-exports their public names (and
``_OBSERVATION_SETS``, which a test reads) so ``from service.pathway.facts import ...`` keeps working. Names with a
leading underscore are private to the package.
"""

from __future__ import annotations

from service.pathway.facts.aspirin import aspirin_mg_per_day
from service.pathway.facts.blocks import NO_BLOCKS
from service.pathway.facts.blocks import DiagnosticBlocks
from service.pathway.facts.blocks import diagnostic_blocks
from service.pathway.facts.contraindications import ABSOLUTE_TIER
from service.pathway.facts.contraindications import DISSECTION_WORKUP
from service.pathway.facts.contraindications import WORKUP_DAYS
from service.pathway.facts.contraindications import anticoagulation
from service.pathway.facts.contraindications import manipulation_contraindications
from service.pathway.facts.contraindications import vascular_workup
from service.pathway.facts.dates import age
from service.pathway.facts.dates import days_after
from service.pathway.facts.dates import days_before
from service.pathway.facts.dates import is_deceased
from service.pathway.facts.dates import months_before
from service.pathway.facts.dates import years_between
from service.pathway.facts.derive import Facts
from service.pathway.facts.derive import derive_facts
from service.pathway.facts.diagnosis import NO_DIAGNOSIS
from service.pathway.facts.diagnosis import Diagnosis
from service.pathway.facts.diagnosis import Onset
from service.pathway.facts.diagnosis import Refutation
from service.pathway.facts.diagnosis import diagnosis
from service.pathway.facts.diagnosis import onset
from service.pathway.facts.differentials import MEDICATION_OVERUSE
from service.pathway.facts.differentials import MIGRAINE
from service.pathway.facts.differentials import SIH
from service.pathway.facts.differentials import differentials
from service.pathway.facts.findings import RECENT_MONTHS
from service.pathway.facts.findings import Finding
from service.pathway.facts.findings import history_status
from service.pathway.facts.findings import is_excluded
from service.pathway.facts.findings import safety_conditions
from service.pathway.facts.findings import safety_findings
from service.pathway.facts.labels import code_text
from service.pathway.facts.labels import resource_label
from service.pathway.facts.observations import _OBSERVATION_SETS
from service.pathway.facts.observations import observation_is_used
from service.pathway.facts.order_kinds import CODEINE_TRAMADOL
from service.pathway.facts.order_kinds import ESCALATION_KINDS
from service.pathway.facts.order_kinds import IMAGING_KINDS
from service.pathway.facts.order_kinds import METHADONE_BUPRENORPHINE
from service.pathway.facts.order_kinds import OrderClass
from service.pathway.facts.order_kinds import OrderKind
from service.pathway.facts.order_kinds import classify
from service.pathway.facts.order_kinds import classify_order
from service.pathway.facts.orders import CERVICAL
from service.pathway.facts.orders import OTHER_REGION
from service.pathway.facts.orders import DraftOrder
from service.pathway.facts.orders import draft_orders
from service.pathway.facts.orders import imaging_studies
from service.pathway.facts.orders import order_region
from service.pathway.facts.outcomes import NO_OUTCOME
from service.pathway.facts.outcomes import Outcome
from service.pathway.facts.outcomes import outcome
from service.pathway.facts.pregnancy import Pregnancy
from service.pathway.facts.pregnancy import pregnancy
from service.pathway.facts.pt_course import PtTrial
from service.pathway.facts.pt_course import encounter_is_used
from service.pathway.facts.pt_course import is_pt_visit
from service.pathway.facts.pt_course import pt_trial
from service.pathway.facts.pt_regions import PtRegion
from service.pathway.facts.pt_regions import is_pt_referral
from service.pathway.facts.pt_regions import text_region
from service.pathway.facts.red_flags import HEAD_INJURY
from service.pathway.facts.red_flags import IMMUNOSUPPRESSION
from service.pathway.facts.red_flags import MALIGNANCY
from service.pathway.facts.red_flags import MALIGNANCY_HISTORY
from service.pathway.facts.red_flags import NEW_ONSET_OLDER_ADULT
from service.pathway.facts.red_flags import PREGNANCY_NEW_HEADACHE
from service.pathway.facts.red_flags import TRAUMA
from service.pathway.facts.red_flags import imaging_history
from service.pathway.facts.red_flags import new_or_changed_headache
from service.pathway.facts.red_flags import recent_trauma
from service.pathway.facts.red_flags import red_flags
from service.pathway.facts.status import ACTIVE_CLINICAL
from service.pathway.facts.status import ACTIVE_MEDICATION
from service.pathway.facts.status import COMPLETED
from service.pathway.facts.status import CONFIRMED
from service.pathway.facts.status import CURRENT_REQUEST
from service.pathway.facts.status import ENTERED_IN_ERROR
from service.pathway.facts.status import FINISHED
from service.pathway.facts.status import IGNORED_OBSERVATION
from service.pathway.facts.status import IGNORED_VERIFICATION
from service.pathway.facts.status import REFUTED
from service.pathway.facts.status import SUSPECTED_VERIFICATION
from service.pathway.facts.status import condition_date
from service.pathway.facts.status import in_set
from service.pathway.facts.status import is_active
from service.pathway.facts.status import is_completed
from service.pathway.facts.status import is_counted
from service.pathway.facts.steps import Steps
from service.pathway.facts.steps import has_cervical_site
from service.pathway.facts.steps import is_gon_block
from service.pathway.facts.steps import steps
from service.pathway.facts.toxin_reasons import toxin_orders_not_for_cgh

__all__ = [
    "ABSOLUTE_TIER",
    "ACTIVE_CLINICAL",
    "ACTIVE_MEDICATION",
    "CERVICAL",
    "CODEINE_TRAMADOL",
    "COMPLETED",
    "CONFIRMED",
    "CURRENT_REQUEST",
    "DISSECTION_WORKUP",
    "Diagnosis",
    "DiagnosticBlocks",
    "DraftOrder",
    "ENTERED_IN_ERROR",
    "ESCALATION_KINDS",
    "FINISHED",
    "Facts",
    "Finding",
    "HEAD_INJURY",
    "IGNORED_OBSERVATION",
    "IGNORED_VERIFICATION",
    "IMAGING_KINDS",
    "IMMUNOSUPPRESSION",
    "MALIGNANCY",
    "MALIGNANCY_HISTORY",
    "MEDICATION_OVERUSE",
    "METHADONE_BUPRENORPHINE",
    "MIGRAINE",
    "NEW_ONSET_OLDER_ADULT",
    "NO_BLOCKS",
    "NO_DIAGNOSIS",
    "NO_OUTCOME",
    "OTHER_REGION",
    "Onset",
    "OrderClass",
    "OrderKind",
    "Outcome",
    "PREGNANCY_NEW_HEADACHE",
    "Pregnancy",
    "PtRegion",
    "PtTrial",
    "RECENT_MONTHS",
    "REFUTED",
    "Refutation",
    "SIH",
    "SUSPECTED_VERIFICATION",
    "Steps",
    "TRAUMA",
    "WORKUP_DAYS",
    "_OBSERVATION_SETS",
    "age",
    "anticoagulation",
    "aspirin_mg_per_day",
    "classify",
    "classify_order",
    "code_text",
    "condition_date",
    "days_after",
    "days_before",
    "derive_facts",
    "diagnosis",
    "diagnostic_blocks",
    "differentials",
    "draft_orders",
    "encounter_is_used",
    "has_cervical_site",
    "history_status",
    "imaging_history",
    "imaging_studies",
    "in_set",
    "is_active",
    "is_completed",
    "is_counted",
    "is_deceased",
    "is_excluded",
    "is_gon_block",
    "is_pt_referral",
    "is_pt_visit",
    "manipulation_contraindications",
    "months_before",
    "new_or_changed_headache",
    "observation_is_used",
    "onset",
    "order_region",
    "outcome",
    "pregnancy",
    "pt_trial",
    "recent_trauma",
    "red_flags",
    "resource_label",
    "safety_conditions",
    "safety_findings",
    "steps",
    "text_region",
    "toxin_orders_not_for_cgh",
    "vascular_workup",
    "years_between",
]
