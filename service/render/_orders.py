"""The FHIR resources a suggestion creates, built from card content and validated with fhir.resources (R4B).

R4B shares R4's ServiceRequest model; fhir.resources 8 ships no plain R4 package, so R4B is what validates
the R4 resources we emit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import Final

from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

#: The orders a suggestion can create, by the key ``cards/_common.yaml`` defines them under.
PT_REFERRAL: Final = "pt-referral"
GON_BLOCK: Final = "gon-block"
ORDER_KEYS: Final = (PT_REFERRAL, GON_BLOCK)


@dataclass(frozen=True, slots=True)
class OrderTemplate:
    """A ServiceRequest a suggestion creates: its code and its action wording (``cards/_common.yaml``)."""

    key: str
    system: str
    code: str
    display: str | None
    text: str
    description: str


def validated_service_request(
    order: OrderTemplate, patient_ref: str, reason_ref: str | None
) -> dict[str, Any]:
    """A draft ServiceRequest for ``order`` about ``patient_ref``, checked against the FHIR R4B model.

    :raises ValueError: if the resource does not validate (a content or programming error, not patient data:
        callers pass only references they have already checked).
    """
    coding: dict[str, Any] = {"system": order.system, "code": order.code}
    if order.display:
        coding["display"] = order.display
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [coding], "text": order.text},
        "subject": {"reference": patient_ref},
    }
    if reason_ref:
        resource["reasonReference"] = [{"reference": reason_ref}]
    try:
        ServiceRequest.model_validate(resource)
    except ValidationError as error:
        raise ValueError(f"ServiceRequest for {order.key} is not valid FHIR: {error}") from None
    return resource
