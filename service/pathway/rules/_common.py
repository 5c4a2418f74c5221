"""What the rules share: the moment sets, the trigger builders and ``_advice``, which assembles an ``Advice``."""

from __future__ import annotations

from collections.abc import Iterable
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
from service.pathway.facts import DraftOrder
from service.pathway.facts import Facts
from service.pathway.facts import Finding
from service.pathway.facts import condition_date
from service.pathway.facts import resource_label

ALL_MOMENTS = frozenset(Moment)


RECORD_REVIEW = frozenset({Moment.RECORD_REVIEW})


ORDER_MOMENTS = frozenset({Moment.ORDER_SELECT, Moment.ORDER_SIGN})

#: The recommendations that suppress others (their ``suppresses_when``), for ``suppressed_by``.
OUT_OF_SCOPE_PEDIATRIC = RecommendationId("out-of-scope-pediatric")
RED_FLAGS = RecommendationId("red-flags")

#: The optional prefetch keys the PT course, its outcome and the steps taken are read from (issue 16):
#: procedures, encounters and service requests (the trial, the steps, a pending vascular study) and
#: observations (the outcome, block relief, pregnancy status).
PT_COURSE_KEYS = frozenset({"encounters", "observations", "procedures", "servicerequests"})


#: Suggestions that create a referral or order, which cites the CGH Condition as its reason.
_REFERRAL_SUGGESTIONS = frozenset(
    {
        SuggestionKind.CREATE_PT_REFERRAL,
        SuggestionKind.REPLACE_WITH_PT_REFERRAL,
        SuggestionKind.CREATE_GON_BLOCK,
    }
)


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


def _pt_notes(facts: Facts) -> list[str]:
    """revision-2 C1, C2: what the PT course leaves undocumented."""
    pt = facts.pt
    return (["region-not-documented"] if pt.undocumented_dates and not pt.adequate else []) + (
        [] if pt.exercise_documented else ["exercise-not-documented"]
    )


def _pt_values(facts: Facts) -> dict[str, str]:
    return {"pt_weeks": str(facts.pt.weeks), "pt_sessions": str(facts.pt.sessions)}


def _failed_trial(facts: Facts) -> bool:
    """An adequate PT trial with a documented inadequate response (the gate of every escalation).

    ``pt.adequate`` counts documented head / neck sessions only: PT without a documented region never
    unlocks escalation (revision-2 C2).
    """
    return facts.pt.adequate and facts.outcome.has_data and facts.outcome.inadequate


def _manipulation_name(orders: tuple[DraftOrder, ...]) -> str:
    """"Cervical manipulation" only when an order documents the neck; else "Spinal manipulation" (C19)."""
    return "Cervical manipulation" if any(order.region == CERVICAL for order in orders) else "Spinal manipulation"
