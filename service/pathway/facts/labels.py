"""How a resource is named on a card: its code as people write it, its display or its text."""

from __future__ import annotations

from collections.abc import Iterable

from service.fhir.coding import ICD10
from service.fhir.coding import ICD10CM
from service.fhir.coding import Coding


def code_text(coding: Coding) -> str:
    """The code as people write it (ICD-10-CM with its dot again)."""
    if coding.system in (ICD10CM, ICD10) and len(coding.code) > 3 and "." not in coding.code:
        return f"{coding.code[:3]}.{coding.code[3:]}"
    return coding.code


def resource_label(codings: Iterable[Coding], text: str | None, preferred: Iterable[Coding] = ()) -> str:
    """A human label for a resource: the matched coding's display, else the text, else any display or code."""
    for coding in preferred:
        if coding.display and coding.display.strip():
            return coding.display.strip()
    if text and text.strip():
        return text.strip()
    listed = tuple(codings)
    for coding in listed:
        if coding.display and coding.display.strip():
            return coding.display.strip()
    return code_text(listed[0]) if listed else "unnamed"
