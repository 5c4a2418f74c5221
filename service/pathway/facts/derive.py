"""Every fact of one evaluation, computed once into one frozen :class:`Facts`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.fhir.record import PatientRecord
from service.pathway.advice import Moment
from service.pathway.facts.blocks import DiagnosticBlocks
from service.pathway.facts.blocks import diagnostic_blocks
from service.pathway.facts.contraindications import anticoagulation
from service.pathway.facts.contraindications import manipulation_contraindications
from service.pathway.facts.contraindications import vascular_workup
from service.pathway.facts.dates import age
from service.pathway.facts.dates import is_deceased
from service.pathway.facts.diagnosis import Diagnosis
from service.pathway.facts.diagnosis import Onset
from service.pathway.facts.diagnosis import diagnosis
from service.pathway.facts.diagnosis import onset
from service.pathway.facts.differentials import differentials
from service.pathway.facts.findings import Finding
from service.pathway.facts.findings import safety_conditions
from service.pathway.facts.order_kinds import OrderKind
from service.pathway.facts.orders import DraftOrder
from service.pathway.facts.orders import draft_orders
from service.pathway.facts.outcomes import Outcome
from service.pathway.facts.outcomes import outcome
from service.pathway.facts.pregnancy import Pregnancy
from service.pathway.facts.pregnancy import pregnancy
from service.pathway.facts.pt_course import PtTrial
from service.pathway.facts.pt_course import pt_trial
from service.pathway.facts.red_flags import imaging_history
from service.pathway.facts.red_flags import recent_trauma
from service.pathway.facts.red_flags import red_flags
from service.pathway.facts.steps import Steps
from service.pathway.facts.steps import steps
from service.pathway.facts.toxin_reasons import toxin_orders_not_for_cgh
from service.pathway.thresholds import PathwayThresholds


@dataclass(frozen=True, slots=True)
class Facts:
    """Every derived fact of one evaluation, computed once by :func:`derive_facts`."""

    today: date
    moment: Moment
    thresholds: PathwayThresholds
    patient_ref: str | None
    deceased: bool
    age: int | None
    diagnosis: Diagnosis
    onset: Onset
    pt: PtTrial
    outcome: Outcome
    steps: Steps
    diagnostic_blocks: DiagnosticBlocks
    pregnancy: Pregnancy
    red_flags: tuple[Finding, ...]
    #: History of malignancy / immunosuppression whatever the dates: never lets imaging be discouraged (C08).
    imaging_history: tuple[Finding, ...]
    contraindications: tuple[Finding, ...]
    anticoagulation: tuple[Finding, ...]
    differentials: tuple[Finding, ...]
    orders: tuple[DraftOrder, ...]
    #: Drafted toxin orders for another condition: no CGH escalation (revision-2 C18).
    not_for_cgh: frozenset[str] = frozenset()

    @property
    def judged_orders(self) -> tuple[DraftOrder, ...]:
        return tuple(order for order in self.orders if order.judged)

    def judged(self, *kinds: OrderKind) -> tuple[DraftOrder, ...]:
        """Judged orders of any of ``kinds``."""
        wanted = frozenset(kinds)
        return tuple(order for order in self.orders if order.judged and order.kinds & wanted)

    def judged_escalations(self, *kinds: OrderKind) -> tuple[DraftOrder, ...]:
        """Judged orders of any of ``kinds`` that escalate CGH treatment (not toxin for another condition)."""
        return tuple(order for order in self.judged(*kinds) if order.ref not in self.not_for_cgh)

    @property
    def pediatric(self) -> bool:
        """Younger than 18: outside the adult pathway (docs/clinical/reference.md §2.4)."""
        return self.age is not None and self.age < 18

    @property
    def confirmed_for_step4(self) -> bool:
        """A confirmed G44.86, or >= 80 % relief on controlled cervical medial branch blocks (revision-2 C16)."""
        return self.diagnosis.confirmed or self.diagnostic_blocks.confirms

    @property
    def pt_planned(self) -> bool:
        """PT in the look-back (a course, or a completed referral: revision-2 C3), an active PT referral, or a
        PT order among the drafts. Sessions for another region do not count (revision-2 C2)."""
        return bool(
            self.pt.session_dates
            or self.pt.referral
            or self.pt.completed_referrals
            or any(OrderKind.PT in order.kinds for order in self.orders)
        )


def derive_facts(
    record: PatientRecord, moment: Moment, today: date, thresholds: PathwayThresholds | None = None
) -> Facts:
    """All facts of docs/clinical/reference.md §2.2 for ``record`` at ``moment`` on ``today``."""
    limits = thresholds if thresholds is not None else PathwayThresholds()
    drafts = draft_orders(record, moment, limits)
    onset_ = onset(record, today, limits)
    pt = pt_trial(record, today, limits)
    steps_ = steps(record, today, limits)
    diagnosis_ = diagnosis(record, today)
    blocks = diagnostic_blocks(record, today, limits)
    pregnancy_ = pregnancy(record, today, limits)
    trauma = recent_trauma(record, today, limits)
    anticoagulated = anticoagulation(record, drafts, today)
    safe = safety_conditions(record)
    history = imaging_history(record, today, safe)
    return Facts(
        today=today,
        moment=moment,
        thresholds=limits,
        patient_ref=record.patient.ref if record.patient is not None else None,
        deceased=is_deceased(record),
        age=age(record, today),
        diagnosis=diagnosis_,
        onset=onset_,
        pt=pt,
        outcome=outcome(record, pt, today, limits),
        steps=steps_,
        diagnostic_blocks=blocks,
        pregnancy=pregnancy_,
        red_flags=red_flags(record, today, limits, onset_, pregnancy_, trauma, history, safe),
        imaging_history=history,
        contraindications=manipulation_contraindications(
            record, today, trauma, anticoagulated, vascular_workup(record, drafts, today), safe
        ),
        anticoagulation=anticoagulated,
        differentials=differentials(record, today),
        orders=drafts,
        not_for_cgh=toxin_orders_not_for_cgh(record, drafts, today, diagnosis_.confirmed or blocks.confirms),
    )
