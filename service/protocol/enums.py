"""CDS Hooks 2.0 protocol vocabulary as enums (hooks, indicators, feedback outcomes, selection behaviour)."""

from __future__ import annotations

from enum import Enum


class Hook(str, Enum):
    """The hooks this service answers (CDS Hooks Library 1.0.1)."""

    PATIENT_VIEW = "patient-view"
    ENCOUNTER_START = "encounter-start"
    ORDER_SELECT = "order-select"
    ORDER_SIGN = "order-sign"


class Indicator(str, Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class FeedbackOutcome(str, Enum):
    ACCEPTED = "accepted"
    OVERRIDDEN = "overridden"


class SelectionBehavior(str, Enum):
    AT_MOST_ONE = "at-most-one"
    ANY = "any"


class ActionType(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class LinkType(str, Enum):
    ABSOLUTE = "absolute"
    SMART = "smart"
