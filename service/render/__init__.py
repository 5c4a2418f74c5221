"""Render: turn the pathway's ``Advice`` into CDS Hooks 2.0 cards from the content in ``cards/``.

Load the content once at start-up with :func:`load_card_library` (it raises ``ContentError`` for any
problem), then call :func:`render_cards` per request. The content format is described in ``cards/README.md``;
what each recommendation's advice carries is declared beside each rule (``service/pathway/rules/``;
``cgh-cds catalogue`` prints them all).
"""

from __future__ import annotations

from service.render._cards import UUID_NAMESPACE
from service.render._cards import AdviceContractError
from service.render._cards import render_cards
from service.render._cards import suggestion_keys
from service.render._library import FHIR_BASE_URL
from service.render._library import OVERRIDE_REASON_SYSTEM
from service.render._library import RECOMMENDATION_SYSTEM
from service.render._library import CardContent
from service.render._library import CardLibrary
from service.render._library import Evidence
from service.render._library import load_card_library

__all__ = [
    "FHIR_BASE_URL",
    "OVERRIDE_REASON_SYSTEM",
    "RECOMMENDATION_SYSTEM",
    "UUID_NAMESPACE",
    "AdviceContractError",
    "CardContent",
    "CardLibrary",
    "Evidence",
    "load_card_library",
    "render_cards",
    "suggestion_keys",
]
