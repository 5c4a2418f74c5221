"""How codes and words are weighed (revision-2 §3): the systems whose codes decide alone, so that free
text is read only without them, and the free-text markers several facts share."""

from __future__ import annotations

import re

from service.fhir.coding import ICD10
from service.fhir.coding import ICD10CM
from service.fhir.coding import SNOMED

#: The neck named in words: "cervical", "neck", a cervical level (C5, C5-C6, C5/6).
_CERVICAL = re.compile(r"\b(?:cervical|neck|c[0-7](?:[-/]c?[0-7])?)\b", re.IGNORECASE)
#: Systems whose codes decide on their own (on a Condition, a reason, a PT region): free text and the name fallback
#: are read only for resources without them (revision-2 §3).
_CLINICAL_SYSTEMS = frozenset({ICD10CM, ICD10, SNOMED})
