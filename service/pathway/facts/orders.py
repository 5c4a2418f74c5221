"""The draft orders of a request, classified, with their region and imaging studies, judged per moment."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from service.fhir.coding import Coding
from service.fhir.record import MedicationRequestFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ServiceRequestFacts
from service.pathway.advice import Moment
from service.pathway.facts.aspirin import aspirin_mg_per_day
from service.pathway.facts.labels import resource_label
from service.pathway.facts.order_kinds import IMAGING_KINDS
from service.pathway.facts.order_kinds import OrderKind
from service.pathway.facts.order_kinds import _order_text
from service.pathway.facts.order_kinds import classify
from service.pathway.facts.wording import _CERVICAL
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import short_name
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds

#: Regions other than the neck named on a manipulation order (revision-2 C19: only a non-cervical region
#: documented drops the arterial and instability contraindications to a warning).
_NON_CERVICAL = re.compile(
    r"\b(?:lumbar|lumbosacral|thoracic|thoracolumbar|sacral|sacrum|sacroiliac|pelvi[cs]|low(?:er)?\s+back|hip|knee|"
    r"ankle|foot|shoulder|elbow|wrist|hand|ribs?|extremity|extremities)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """One order from ``context.draftOrders``, classified."""

    ref: str
    label: str
    kinds: frozenset[OrderKind]
    #: Judged at this moment (order-sign: every draft; order-select: the selections); others are context.
    judged: bool
    authored: date | None = None
    #: The term that recognised the order when no code did (revision 2 §3): the card says "matched by name".
    matched_by_name: str | None = None
    #: Aspirin only: milligrams a day when the product strength or dose says so (revision 2 C10), else None.
    aspirin_mg_per_day: float | None = None
    #: Region the order documents (revision-2 C19): CERVICAL, OTHER_REGION, or None when it names none.
    region: str | None = None
    #: Imaging study types (categories of the imaging-studies value set, revision-2 C09).
    studies: frozenset[str] = frozenset()


#: Regions of a manipulation order (revision-2 C19).
CERVICAL = "cervical"
OTHER_REGION = "other-region"


def order_region(text: str) -> str | None:
    """CERVICAL when the order's text or body site names the neck; OTHER_REGION when it names only another
    region; None when it names none (revision-2 C19)."""
    if _CERVICAL.search(text):
        return CERVICAL
    if _NON_CERVICAL.search(text):
        return OTHER_REGION
    return None


def imaging_studies(codings: Iterable[Coding]) -> frozenset[str]:
    """The study types of an imaging order (revision-2 C09), from the imaging-studies value set."""
    studies_vs = value_set(ValueSetId.IMAGING_STUDIES)
    return frozenset(
        group.category
        for coding in studies_vs.matching(codings)
        for group in studies_vs.groups(coding)
        if group.category
    )


def draft_orders(
    record: PatientRecord, moment: Moment, thresholds: PathwayThresholds | None = None
) -> tuple[DraftOrder, ...]:
    """Every draft order, classified and marked judged per ``moment`` (record review judges none).

    Aspirin at or below ``low_dose_aspirin_mg`` a day is not an analgesic order (revision 2 C10): it loses
    its NSAID kind and keeps ASPIRIN.
    """
    limits = thresholds if thresholds is not None else PathwayThresholds()
    result = []
    for order in record.draft_orders:
        if moment is Moment.ORDER_SIGN:
            judged = True
        elif moment is Moment.ORDER_SELECT:
            judged = order.ref in record.selections
        else:
            judged = False
        # Service orders are named by our short label of their code when a value set lists it (issue 15);
        # medications keep their product name, which carries the strength.
        short = short_name(order.codings) if isinstance(order, ServiceRequestFacts) else None
        label = short or resource_label(order.codings, order.text)
        found = classify(order, record.conditions)
        kinds = found.kinds
        daily: float | None = None
        if OrderKind.ASPIRIN in kinds and isinstance(order, MedicationRequestFacts):
            daily = aspirin_mg_per_day(order)
            if daily is not None and daily <= limits.low_dose_aspirin_mg:
                kinds = kinds - {OrderKind.NSAID}
        result.append(
            DraftOrder(
                order.ref,
                label,
                kinds,
                judged,
                order.authored,
                found.matched_by_name,
                daily,
                region=order_region(_order_text(order)),
                studies=imaging_studies(order.codings) if kinds & IMAGING_KINDS else frozenset(),
            )
        )
    return tuple(result)
