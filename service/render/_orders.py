"""The FHIR resources a suggestion creates, built from card content and validated with fhir.resources (R4B).

R4B shares R4's ServiceRequest model; fhir.resources 8 ships no plain R4 package, so R4B is what validates
the R4 resources we emit.

The model's verdict depends on the template and on whether a reason is given, not on which patient: the
references are plain ``Type/id`` strings (the card layer checks them first, and the model does not check the type a
reference names). So it is reached once per (template, with or without reason) and remembered; a reference of
any other shape is validated in full every time. Validating every answer's resource cost ~0.1-0.2 ms of each
answered call with a suggestion (bench/README.md, issue 13).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
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


#: A reference the verdict cannot depend on: ``Type/id`` with FHIR id characters only (a valid FHIR string).
_PLAIN_REFERENCE = re.compile(r"[A-Z][A-Za-z]{0,63}/[A-Za-z0-9.-]{1,64}")


def validated_service_request(
    order: OrderTemplate, patient_ref: str, reason_ref: str | None
) -> dict[str, Any]:
    """A draft ServiceRequest for ``order`` about ``patient_ref``, checked against the FHIR R4B model.

    :raises ValueError: if the resource does not validate (a content or programming error, not patient data:
        callers pass only references they have already checked).
    """
    resource = _service_request(order, patient_ref, reason_ref)
    if _PLAIN_REFERENCE.fullmatch(patient_ref) and (reason_ref is None or _PLAIN_REFERENCE.fullmatch(reason_ref)):
        _check_template(order, with_reason=reason_ref is not None)
    else:
        _validate(order, resource)
    return resource


@lru_cache(maxsize=256)
def _check_template(order: OrderTemplate, *, with_reason: bool) -> None:
    """The model's verdict for ``order`` with plain references (remembered only when it is valid)."""
    _validate(order, _service_request(order, "Patient/example", "Condition/example" if with_reason else None))


def _validate(order: OrderTemplate, resource: dict[str, Any]) -> None:
    try:
        ServiceRequest.model_validate(resource)
    except ValidationError as error:
        raise ValueError(f"ServiceRequest for {order.key} is not valid FHIR: {error}") from None


def _service_request(order: OrderTemplate, patient_ref: str, reason_ref: str | None) -> dict[str, Any]:
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
    return resource
