"""What a drafted order is: its kinds, by code, by name only where no deciding code is present (revision 2 §3)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from service.fhir.coding import CPT
from service.fhir.coding import HCPCS
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.fhir.record import ConditionFacts
from service.fhir.record import MedicationRequestFacts
from service.fhir.record import OrderFacts
from service.fhir.record import ServiceRequestFacts
from service.pathway.facts.status import is_counted
from service.pathway.facts.steps import is_gon_block
from service.pathway.facts.wording import _CERVICAL
from service.pathway.facts.wording import _CLINICAL_SYSTEMS
from service.pathway.terminology import MedicationMatch
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import has_coding_in
from service.pathway.terminology import value_set

#: Free-text markers (not codes) for the manipulation gate on PT orders (docs/clinical/reference.md §1.4: 97140 cannot
#: tell thrust from mobilisation; treat as manipulation only when the text documents a cervical thrust).
_THRUST = re.compile(r"\b(?:thrust|hvla|high[- ]velocity)\b", re.IGNORECASE)


class OrderKind(StrEnum):
    """What a drafted order is, for the order-hook rules."""

    SPINE_IMAGING = "spine-imaging"
    HEAD_IMAGING = "head-imaging"
    VASCULAR_IMAGING = "vascular-imaging"
    MANIPULATION = "manipulation"
    GON_BLOCK = "gon-block"
    PERCUTANEOUS = "percutaneous"
    REFRACTORY = "refractory"
    TOXIN = "toxin"
    OPIOID = "opioid"
    NSAID = "nsaid"
    PARACETAMOL = "paracetamol"
    TRIPTAN = "triptan"
    PT = "pt"
    ANTICOAGULANT = "anticoagulant"
    #: Butalbital products: medication-opioid with the butalbital wording (revision 2 C12).
    BUTALBITAL = "butalbital"
    #: An opioid order of codeine or tramadol (FDA 2017 paediatric restriction; revision 2 C4). Always with OPIOID.
    CODEINE_TRAMADOL = "codeine-tramadol"
    #: Aspirin (also an NSAID unless it is low-dose, which is not an analgesic order: revision 2 C10).
    ASPIRIN = "aspirin"


#: Orders that escalate past step 1 (pt-first-line on order hooks, escalation-premature).
ESCALATION_KINDS = frozenset({OrderKind.GON_BLOCK, OrderKind.PERCUTANEOUS, OrderKind.REFRACTORY, OrderKind.TOXIN})
IMAGING_KINDS = frozenset({OrderKind.SPINE_IMAGING, OrderKind.HEAD_IMAGING, OrderKind.VASCULAR_IMAGING})


_SERVICE_KINDS: tuple[tuple[ValueSetId, OrderKind], ...] = (
    (ValueSetId.CERVICAL_SPINE_IMAGING, OrderKind.SPINE_IMAGING),
    (ValueSetId.HEAD_IMAGING, OrderKind.HEAD_IMAGING),
    (ValueSetId.NEUROVASCULAR_IMAGING, OrderKind.VASCULAR_IMAGING),
    (ValueSetId.MANIPULATION, OrderKind.MANIPULATION),
    (ValueSetId.PERCUTANEOUS, OrderKind.PERCUTANEOUS),
    (ValueSetId.REFRACTORY, OrderKind.REFRACTORY),
    (ValueSetId.BOTULINUM_TOXIN, OrderKind.TOXIN),
    (ValueSetId.PT_EXERCISE, OrderKind.PT),
    (ValueSetId.PT_REEVALUATION, OrderKind.PT),
)


_MEDICATION_KINDS: tuple[tuple[ValueSetId, OrderKind], ...] = (
    (ValueSetId.OPIOIDS, OrderKind.OPIOID),
    (ValueSetId.NSAIDS, OrderKind.NSAID),
    (ValueSetId.PARACETAMOL, OrderKind.PARACETAMOL),
    (ValueSetId.TRIPTANS, OrderKind.TRIPTAN),
    (ValueSetId.ANTICOAGULANTS, OrderKind.ANTICOAGULANT),
    (ValueSetId.BUTALBITAL, OrderKind.BUTALBITAL),
    (ValueSetId.ASPIRIN, OrderKind.ASPIRIN),
)


#: Opioid groups (value-set categories of ``opioids``) that change what the order means (revision 2 C4, C12).
CODEINE_TRAMADOL = "codeine-tramadol"
METHADONE_BUPRENORPHINE = "methadone-buprenorphine"


#: A procedure order is judged by these codings; only without any of them may it be recognised by name.
_PROCEDURE_SYSTEMS = (CPT, HCPCS, SNOMED, RXNORM)


def _order_text(order: OrderFacts) -> str:
    parts = [order.text or ""]
    if isinstance(order, ServiceRequestFacts):
        parts.extend(order.notes)
        parts.extend(coding.display or "" for coding in order.body_site)
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class OrderClass:
    """What a drafted order is, and the term that recognised it when no code did."""

    kinds: frozenset[OrderKind]
    matched_by_name: str | None = None


def classify_order(order: OrderFacts, conditions: Iterable[ConditionFacts] = ()) -> frozenset[OrderKind]:
    """The kinds of a drafted order (see :func:`classify`)."""
    return classify(order, conditions).kinds


def classify(order: OrderFacts, conditions: Iterable[ConditionFacts] = ()) -> OrderClass:
    """The kinds of a drafted order, by code; by name only where no deciding code is present (revision 2 §3).

    A PT order counts as manipulation only when its text documents a cervical thrust (docs/clinical/reference.md §1.4).
    Botulinum toxin is also recognised by ingredient or brand name (revision 2 C11) on a medication without
    RxNorm coding or a procedure order without CPT/HCPCS/SNOMED coding. Treatment of opioid use disorder is
    not an opioid order (revision 2 C12); ``conditions`` resolve an order's ``reasonReference``.
    """
    kinds: set[OrderKind] = set()
    names: list[str] = []
    text = _order_text(order)
    for vs_id, kind in _SERVICE_KINDS:
        if value_set(vs_id).contains_any(order.codings):
            kinds.add(kind)
    if is_gon_block(order.codings, text):
        kinds.add(OrderKind.GON_BLOCK)
    toxin_vs = value_set(ValueSetId.BOTULINUM_TOXIN)
    if isinstance(order, MedicationRequestFacts):
        toxin = toxin_vs.medication_match(order.codings, order.text)
        for vs_id, kind in _MEDICATION_KINDS:
            match = value_set(vs_id).medication_match(order.codings, order.text)
            if match is None:
                continue
            kinds.add(kind)
            names.extend([match.matched_by_name] if match.matched_by_name else [])
            if kind is OrderKind.OPIOID:
                if CODEINE_TRAMADOL in match.categories:
                    kinds.add(OrderKind.CODEINE_TRAMADOL)
                if _treats_opioid_use_disorder(order, match, conditions):
                    kinds -= {OrderKind.OPIOID, OrderKind.CODEINE_TRAMADOL}
    else:
        toxin = toxin_vs.medication_match(order.codings, text, deciding=_PROCEDURE_SYSTEMS)
    if toxin is not None:
        kinds.add(OrderKind.TOXIN)
        names.extend([toxin.matched_by_name] if toxin.matched_by_name else [])
    if OrderKind.PT in kinds and _THRUST.search(text) and _CERVICAL.search(text):
        kinds.add(OrderKind.MANIPULATION)
    return OrderClass(frozenset(kinds), names[0] if names else None)


def _treats_opioid_use_disorder(
    order: MedicationRequestFacts, opioid: MedicationMatch, conditions: Iterable[ConditionFacts]
) -> bool:
    """Revision 2 C12: buprenorphine-naloxone and extended-release buprenorphine products, or methadone /
    buprenorphine (and nothing else opioid) whose reason is an opioid use disorder (F11.-)."""
    if value_set(ValueSetId.OPIOID_USE_DISORDER_TREATMENT).medication_match(order.codings, order.text) is not None:
        return True
    if opioid.categories != {METHADONE_BUPRENORPHINE}:
        return False
    disorder = value_set(ValueSetId.OPIOID_USE_DISORDER)
    if disorder.contains_any(order.reason_codings):
        return True
    if not has_coding_in(order.reason_codings, _CLINICAL_SYSTEMS) and disorder.name_hit(*order.reason_texts):
        return True
    reasons = frozenset(order.reason_refs)
    return any(c.ref in reasons and is_counted(c) and disorder.contains_any(c.codings) for c in conditions)
