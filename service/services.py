"""The four CDS services as data: id, hook, title, description, prefetch, and the pathway moment that answers.

Discovery is generated from this registry; nothing else lists the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.errors import UnknownServiceError
from service.fhir.prefetch import PREFETCH_TEMPLATES
from service.pathway import Moment
from service.protocol.enums import Hook

_USAGE = (
    "Send the prefetch keys listed here, or fhirServer (with fhirAuthorization when your FHIR server needs a "
    "token) so the service can fetch what is missing. Authenticate with a CDS Hooks 2.0 client JWT."
)


@dataclass(frozen=True, slots=True)
class CdsService:
    id: str
    hook: Hook
    title: str
    description: str
    moment: Moment
    prefetch: Mapping[str, str]
    usage_requirements: str = _USAGE

    def discovery_entry(self) -> dict[str, Any]:
        return {
            "hook": self.hook.value,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
            "usageRequirements": self.usage_requirements,
        }


SERVICES: tuple[CdsService, ...] = (
    CdsService(
        id="cgh-patient-view",
        hook=Hook.PATIENT_VIEW,
        title="Cervicogenic headache pathway status",
        description=(
            "When a chart is opened for a patient with confirmed or suspected cervicogenic headache: where the "
            "patient is on the pathway (physical therapy first, then occipital nerve block, percutaneous "
            "interventions, refractory options), red flags, and competing diagnoses."
        ),
        moment=Moment.RECORD_REVIEW,
        prefetch=PREFETCH_TEMPLATES,
    ),
    CdsService(
        id="cgh-encounter-start",
        hook=Hook.ENCOUNTER_START,
        title="Cervicogenic headache pathway at encounter start",
        description=(
            "When an encounter starts for a patient with confirmed or suspected cervicogenic headache: the "
            "pathway step reached, red flags and competing diagnoses, before the visit's decisions are made."
        ),
        moment=Moment.RECORD_REVIEW,
        prefetch=PREFETCH_TEMPLATES,
    ),
    CdsService(
        id="cgh-order-select",
        hook=Hook.ORDER_SELECT,
        title="Cervicogenic headache order check (select)",
        description=(
            "When orders are selected for a patient with cervicogenic headache: warns about imaging without red "
            "flags, spinal manipulation risks and contraindications, opioids, and escalation before the pathway "
            "reaches that step."
        ),
        moment=Moment.ORDER_SELECT,
        prefetch=PREFETCH_TEMPLATES,
    ),
    CdsService(
        id="cgh-order-sign",
        hook=Hook.ORDER_SIGN,
        title="Cervicogenic headache order check (sign)",
        description=(
            "Before orders are signed for a patient with cervicogenic headache: the same checks as at selection, "
            "over every drafted order."
        ),
        moment=Moment.ORDER_SIGN,
        prefetch=PREFETCH_TEMPLATES,
    ),
)

_BY_ID = {service.id: service for service in SERVICES}


def get_service(service_id: str) -> CdsService:
    """The service registered under ``service_id``.

    :raises UnknownServiceError: naming the ids that exist.
    """
    try:
        return _BY_ID[service_id]
    except KeyError:
        raise UnknownServiceError(
            f"No CDS service with id {service_id!r}. Services: {', '.join(sorted(_BY_ID))} (GET /cds-services)."
        ) from None


def discovery_document() -> dict[str, Any]:
    return {"services": [service.discovery_entry() for service in SERVICES]}
