"""What the pathway answers: ``Advice`` values, one per recommendation id that fires.

Pure data. The render layer turns each ``Advice`` into a CDS card using the content in ``cards/``; the
pathway never knows card wording. Recommendation ids are those of ``docs/clinical/recommendations.md``, one
per rule module (``service.pathway.ids``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from service.pathway.ids import RecommendationId as RecommendationId


class Moment(StrEnum):
    """When the pathway is consulted; the service registry maps each CDS hook to one of these."""

    #: patient-view and encounter-start: judge the record.
    RECORD_REVIEW = "record-review"
    #: order-select: judge the selected draft orders (other drafts are context).
    ORDER_SELECT = "order-select"
    #: order-sign: judge every draft order.
    ORDER_SIGN = "order-sign"


class Indicator(StrEnum):
    """Urgency of a piece of advice, in CDS Hooks' vocabulary (ordered: critical > warning > info)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class SuggestionKind(StrEnum):
    """Actions a card may offer; the render layer builds the FHIR resources from the card content."""

    #: Create a PT referral ServiceRequest (SNOMED 91251008) with the CGH condition as reason.
    CREATE_PT_REFERRAL = "create-pt-referral"
    #: Delete the drafted orders named in ``Advice.orders`` (e.g. imaging without a red flag).
    DELETE_ORDERS = "delete-orders"
    #: Delete the drafted manipulation orders in ``Advice.orders`` and create a PT referral instead.
    REPLACE_WITH_PT_REFERRAL = "replace-with-pt-referral"
    #: Create a greater occipital nerve block ServiceRequest (CPT 64405).
    CREATE_GON_BLOCK = "create-gon-block"


@dataclass(frozen=True, slots=True)
class Trigger:
    """One resource that made a rule fire, for the card's patient-specific "why"."""

    #: ``Type/id`` of the resource.
    ref: str
    #: What the resource stands for in this rule, a short key defined in the card content's ``roles``
    #: (e.g. ``diagnosis``, ``red-flag``, ``pt-session``, ``drafted-order``, ``outcome``).
    role: str
    #: Human-readable concept from the resource's own coding display or text (may be None).
    label: str | None = None
    when: date | None = None
    #: The word or phrase that matched when the resource was recognised by name, not by code (revision 2
    #: §3: the safety name fallback); the card's "why" says so.
    matched_by_name: str | None = None


@dataclass(frozen=True, slots=True)
class Advice:
    """One fired recommendation.

    ``facts`` fill the named placeholders of the card's detail template (values already formatted as text);
    ``notes`` name optional paragraphs of the card content (e.g. ``dissection-suspected``) to include;
    ``orders`` are the ``Type/id`` of the drafted orders the advice is about; ``reason_ref`` is the CGH
    Condition a suggested referral should cite; ``patient_ref`` is ``Patient/id``; ``data_gaps`` names the
    prefetch keys that could not be read and that this advice would have read (``service.pathway.gaps``).
    """

    recommendation: RecommendationId
    indicator: Indicator
    facts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[str, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    orders: tuple[str, ...] = ()
    suggestions: tuple[SuggestionKind, ...] = ()
    reason_ref: str | None = None
    patient_ref: str | None = None
    data_gaps: tuple[str, ...] = ()
