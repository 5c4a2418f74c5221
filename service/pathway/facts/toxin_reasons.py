"""Drafted botulinum toxin orders that are no CGH escalation (revision-2 C18)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from service.fhir.coding import Coding
from service.fhir.record import ConditionFacts
from service.fhir.record import OrderFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ServiceRequestFacts
from service.pathway.facts.order_kinds import OrderKind
from service.pathway.facts.orders import DraftOrder
from service.pathway.facts.status import is_active
from service.pathway.facts.status import is_counted
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set

#: Order reasons that keep a toxin order a CGH escalation (revision-2 C18).
_CGH_REASON_SETS = (
    ValueSetId.CGH_DX_SPECIFIC,
    ValueSetId.CGH_DX_LEGACY,
    ValueSetId.HEADACHE_SYMPTOMS,
    ValueSetId.CERVICAL_DISORDERS,
)


def _order_reasons(order: OrderFacts, conditions: dict[str, ConditionFacts]) -> tuple[Coding, ...]:
    """The coded reasons of a drafted order: ``reasonCode`` and the counted Conditions it references.

    Only ServiceRequests carry reasons in the record so far; a MedicationRequest has none.
    """
    if not isinstance(order, ServiceRequestFacts):
        return ()
    referenced = (conditions[ref] for ref in order.reason_refs if ref in conditions)
    return order.reason_codings + tuple(coding for c in referenced if is_counted(c) for coding in c.codings)


def toxin_orders_not_for_cgh(
    record: PatientRecord, drafts: Iterable[DraftOrder], today: date, cgh_confirmed: bool
) -> frozenset[str]:
    """Drafted botulinum toxin orders that are not a CGH escalation (revision-2 C18; PREEMPT: toxin is
    indicated for chronic migraine): a coded reason none of which is CGH, headache or a cervical disorder
    (chronic migraine, dystonia, spasticity, cosmetic, ...), or any toxin order while chronic migraine is
    active and CGH is not confirmed. Free-text reasons do not count: they never lift a warning.
    """
    toxins = {draft.ref for draft in drafts if OrderKind.TOXIN in draft.kinds}
    if not toxins:
        return frozenset()
    chronic_migraine = value_set(ValueSetId.CHRONIC_MIGRAINE)
    if not cgh_confirmed and any(
        is_active(c, today) and chronic_migraine.contains_any(c.codings) for c in record.conditions
    ):
        return frozenset(toxins)
    conditions = {condition.ref: condition for condition in record.conditions}
    cgh_sets = [value_set(vs_id) for vs_id in _CGH_REASON_SETS]
    result = set()
    for order in record.draft_orders:
        if order.ref not in toxins:
            continue
        reasons = _order_reasons(order, conditions)
        if reasons and not any(vs.contains_any(reasons) for vs in cgh_sets):
            result.add(order.ref)
    return frozenset(result)
