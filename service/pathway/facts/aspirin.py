"""Milligrams of aspirin a day, from the product strength and the dosage (revision 2 C10)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from service.fhir.record import DoseFacts
from service.fhir.record import MedicationRequestFacts
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set

#: A strength in milligrams in a product name or dose text ("Aspirin 81 MG Oral Tablet", "81mg daily").
_MILLIGRAMS = re.compile(r"(\d+(?:\.\d+)?)\s*mg\b", re.IGNORECASE)
#: Dose units that mean milligrams (UCUM code or the unit as written).
_MG_UNITS = frozenset({"mg", "milligram", "milligrams"})


def aspirin_mg_per_day(order: MedicationRequestFacts) -> float | None:
    """Milligrams of aspirin a day, when the record says so (revision 2 C10: <= 150 mg is prophylaxis).

    The strength is the milligram figure right after an aspirin name ("Aspirin 81 MG Oral Tablet", "aspirin
    250 MG / acetaminophen 250 MG / caffeine 65 MG", as RxNorm names products), else the one milligram figure of
    the name; several figures none of which follows an aspirin name, or none at all, give no strength. Each
    dosage instruction gives a dose in mg, or a number of units of that strength (else the strength, or a single
    mg figure in its text), times the administrations a day its timing states (once when unstated). The largest
    instruction wins; None when nothing says.
    """
    names = [order.text, *(coding.display for coding in order.codings)]
    strength = _named_milligrams(names)
    if strength is None:
        strength = _single_milligrams(names)
    daily = [dose for dose in (_daily_milligrams(d, strength) for d in order.dosage) if dose is not None]
    if daily:
        return max(daily)
    return strength


@lru_cache(maxsize=1)
def _aspirin_strength() -> re.Pattern[str]:
    # The aspirin value set's own names (ingredient, brands), so no drug name is written in Python.
    names = sorted((term for term, _group in value_set(ValueSetId.ASPIRIN).name_terms()), key=len, reverse=True)
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(r"(?<!\w)(?:" + alternatives + r")\s+(\d+(?:\.\d+)?)\s*mg\b", re.IGNORECASE)


def _named_milligrams(texts: Iterable[str | None]) -> float | None:
    found = {float(value) for text in texts if text for value in _aspirin_strength().findall(text)}
    return found.pop() if len(found) == 1 else None


def _single_milligrams(texts: Iterable[str | None]) -> float | None:
    found = {float(value) for text in texts if text for value in _MILLIGRAMS.findall(text)}
    return found.pop() if len(found) == 1 else None


def _daily_milligrams(dose: DoseFacts, strength: float | None) -> float | None:
    unit = (dose.unit or "").strip().lower()
    if dose.quantity is not None and unit in _MG_UNITS:
        each: float | None = dose.quantity
    elif dose.quantity is not None and strength is not None:
        each = dose.quantity * strength
    else:
        each = strength if strength is not None else _single_milligrams([dose.text])
    if each is None:
        return None
    return each * (dose.per_day if dose.per_day is not None else 1.0)
