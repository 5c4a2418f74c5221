"""Evaluate patients from their own FHIR data, without an EHR and without auditing.

The command line (``evaluate --bundle``, ``fixture new``, ``population``) and the sandbox endpoint share this:
a patient's resources (``service.bundles``) become the hook request an EHR would send, which is answered as
the service answers it (``service.invocation.advise``), but never written to the audit: dry runs must not
appear in the governance figures.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from typing import Any

from service.bundles import PatientData
from service.bundles import hook_request
from service.config import Settings
from service.errors import CdsServiceError
from service.invocation import advise
from service.pathway.facts import diagnosis
from service.protocol.enums import Hook
from service.render import CardLibrary
from service.services import SERVICES
from service.services import CdsService
from service.services import get_service


@dataclass(frozen=True, slots=True)
class PatientResult:
    """What one patient's evaluation gave: the request sent, the response, or the error that stopped it."""

    patient_id: str
    service_id: str
    request: dict[str, Any] | None
    response: dict[str, Any] | None
    #: ``None`` when evaluated; else the error code slug and message.
    error: tuple[str, str] | None = None
    #: True when the patient has neither confirmed nor suspected cervicogenic headache.
    no_cgh: bool = False
    duration_ms: float = 0.0
    recommendations: tuple[str, ...] = field(default=())


def service_for(hook_or_service: str) -> CdsService:
    """The service answering ``hook_or_service``: a hook name (``patient-view``) or a service id.

    :raises UnknownServiceError: neither.
    """
    for service in SERVICES:
        if service.hook.value == hook_or_service:
            return service
    return get_service(hook_or_service)


def evaluate_patient(
    data: PatientData,
    service: CdsService,
    *,
    cards: CardLibrary,
    settings: Settings,
    today: date,
    drafts: Sequence[Mapping[str, Any]] = (),
) -> PatientResult:
    """Build the patient's hook request for ``service`` and answer it. Service errors are results, not raised."""
    started = time.perf_counter()
    request: dict[str, Any] | None = None
    try:
        request = hook_request(data, service, drafts=drafts)
        answer = advise(service, request, cards=cards, settings=settings, today=today)
    except CdsServiceError as error:
        return PatientResult(data.patient_id, service.id, request, None, (error.code, error.message),
                             duration_ms=(time.perf_counter() - started) * 1000)
    rendered = answer.response["cards"]
    return PatientResult(
        patient_id=data.patient_id,
        service_id=service.id,
        request=request,
        response=answer.response,
        no_cgh=not diagnosis(answer.record, today).active,
        duration_ms=(time.perf_counter() - started) * 1000,
        recommendations=tuple(card["source"]["topic"]["code"] for card in rendered),
    )


def is_order_hook(service: CdsService) -> bool:
    return service.hook in (Hook.ORDER_SELECT, Hook.ORDER_SIGN)
