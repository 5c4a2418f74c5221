"""The parts of a medication order read leniently: its reasons and its dosage (a malformed part reads as
absent, never as a reason to drop the order)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from service.fhir.bundle import normalise_reference
from service.fhir.coding import Coding
from service.fhir.elements import InvalidElementError
from service.fhir.elements import as_list
from service.fhir.elements import codeable_concept
from service.fhir.elements import quantity
from service.fhir.record import DoseFacts


def medication_reasons(resource: dict[str, Any], full_urls: Mapping[str, str]) -> dict[str, Any]:
    """``reasonCode`` and ``reasonReference`` of a medication order, read leniently.

    A malformed reason reads as absent rather than skipping the order: the order itself (an opioid, an
    NSAID) is what the safety cards are about, and a reason only ever *excludes* one (revision 2 C12).
    """
    codings: list[Coding] = []
    texts: list[str] = []
    # R4/STU3 reasonCode (array); DSTU2 MedicationOrder reasonCodeableConcept (single).
    for reason in [*as_list(resource.get("reasonCode")), *as_list(resource.get("reasonCodeableConcept"))]:
        try:
            found, text = codeable_concept(reason, "reasonCode")
        except InvalidElementError:
            continue
        codings.extend(found)
        texts.extend([text] if text else [])
    refs: list[str] = []
    for reason in as_list(resource.get("reasonReference")):
        reference = reason.get("reference") if isinstance(reason, dict) else None
        resolved = normalise_reference(reference, full_urls) if isinstance(reference, str) else None
        if resolved:
            refs.append(resolved)
    return {"reason_codings": tuple(codings), "reason_texts": tuple(texts), "reason_refs": tuple(refs)}


#: ``Timing.repeat.periodUnit`` in days (UCUM units of time FHIR allows there).
_PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0}


def dosage_instructions(resource: dict[str, Any]) -> tuple[DoseFacts, ...]:
    """Each ``dosageInstruction``, read leniently: a part that is not valid FHIR reads as absent, never as a
    reason to drop the order. The dose is R4 ``doseAndRate[0].doseQuantity``, else STU3/DSTU2 ``doseQuantity``."""
    doses: list[DoseFacts] = []
    for dosage in as_list(resource.get("dosageInstruction")):
        if not isinstance(dosage, dict):
            continue
        text = dosage.get("text") if isinstance(dosage.get("text"), str) else None
        amount: float | None = None
        unit: str | None = None
        rates = [item for item in as_list(dosage.get("doseAndRate")) if isinstance(item, dict)]
        dose = rates[0].get("doseQuantity") if rates else dosage.get("doseQuantity")
        try:
            amount, unit = quantity(dose, "doseQuantity")
        except InvalidElementError:
            amount, unit = None, None
        doses.append(DoseFacts(text=text, quantity=amount, unit=unit, per_day=_per_day(dosage.get("timing"))))
    return tuple(doses)


def _per_day(timing: Any) -> float | None:
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict):
        return None
    frequency = _positive_number(repeat.get("frequency", 1))
    period = _positive_number(repeat.get("period"))
    unit = repeat.get("periodUnit")
    days = _PERIOD_DAYS.get(unit) if isinstance(unit, str) else None
    if frequency is None or period is None or days is None:
        return None
    return frequency / (period * days)


def _positive_number(value: Any) -> float | None:
    # Finite only: a feed's overflow or NaN says nothing about how often a dose is taken.
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < math.inf:
        return float(value)
    return None
