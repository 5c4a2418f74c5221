"""CDS Hooks 2.0 protocol vocabulary as enums (hooks, indicators, feedback outcomes, selection behaviour)."""

from __future__ import annotations

from enum import StrEnum

# One Indicator: the pathway decides urgency, and the wire format uses the same three values.
from service.pathway.advice import Indicator

__all__ = ["FeedbackOutcome", "Hook", "Indicator", "SelectionBehavior"]


class Hook(StrEnum):
    """The hooks this service answers (CDS Hooks Library 1.0.1)."""

    PATIENT_VIEW = "patient-view"
    ENCOUNTER_START = "encounter-start"
    ORDER_SELECT = "order-select"
    ORDER_SIGN = "order-sign"


class FeedbackOutcome(StrEnum):
    ACCEPTED = "accepted"
    OVERRIDDEN = "overridden"


class SelectionBehavior(StrEnum):
    AT_MOST_ONE = "at-most-one"
    ANY = "any"


class ActionType(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class LinkType(StrEnum):
    ABSOLUTE = "absolute"
    SMART = "smart"
