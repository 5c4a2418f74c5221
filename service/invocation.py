"""Answer one hook call: validate, gather the patient's data, run the pathway, render the cards, audit.

The one function the invoke view calls. It knows the order of the layers, not their insides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import date
from datetime import datetime
from typing import Any

import requests

from service.config import Settings
from service.errors import CdsServiceError
from service.fhir import FALLBACK_PAGE_SIZE
from service.fhir import PatientRecord
from service.fhir import load_record
from service.fhir.request import DataRequest
from service.governance.modes import Governance
from service.governance.modes import Mode
from service.pathway import encounter_is_used
from service.pathway import evaluate
from service.pathway import observation_is_used
from service.pathway.advice import RecommendationId
from service.protocol import parse_hook_request
from service.protocol.requests import HookRequest
from service.render import CardLibrary
from service.render import render_cards
from service.render import suggestion_keys
from service.services import CdsService
from service.store import InvocationRecord
from service.store import Store
from service.store.audit import AuditWriter
from service.store.repository import IssuedCard

#: Reverse-DNS extension key (CDS Hooks 2.0 §extensions) telling integration testers how many resources
#: were left out because a field the pathway relies on was invalid.
SKIPPED_EXTENSION = "org.example.cgh-cds.skipped-resources"
#: What was skipped or cut short while reading the data (types, elements and counts only: no patient data).
DATA_NOTES_EXTENSION = "org.example.cgh-cds.data-notes"


@dataclass(frozen=True, slots=True)
class ContentSummary:
    recommendations: int
    value_sets: int
    digest: str


@dataclass(frozen=True, slots=True)
class Runtime:
    """What every request shares, built once by the app factory before workers fork."""

    settings: Settings
    store: Store
    audit: AuditWriter
    cards: CardLibrary
    http: requests.Session
    #: What was loaded and validated at start-up, as /readyz reports it: counts and a fingerprint.
    content: ContentSummary = field(default_factory=lambda: ContentSummary(0, 0, ""))
    governance: Governance = Governance()
    on_cards: Callable[[str, list[dict[str, Any]]], None] = lambda service_id, cards: None
    on_skipped: Callable[[int], None] = lambda count: None
    #: The optional prefetch keys a call was answered without (issue 16), for ``/metrics``.
    on_unavailable: Callable[[tuple[str, ...]], None] = lambda keys: None


def answer_hook(
    service: CdsService, payload: Any, runtime: Runtime, *, today: date, client_iss: str | None
) -> dict[str, Any]:
    """The CDS Hooks response for ``payload`` sent to ``service``.

    :raises BadRequestError: the request is malformed or for another hook.
    :raises FhirDataUnavailableError: essential data (the patient, the conditions) could not be obtained
        (412); an optional key that cannot be read is named in the data-notes extension instead.
    """
    started = time.perf_counter()
    received_at = datetime.now(UTC)
    request = parse_hook_request(payload, service.hook)
    record = _record(request, service, timeout_s=runtime.settings.fhir_timeout_s, session=runtime.http)
    advice = evaluate(record, service.moment, today, runtime.settings.thresholds)
    # Governance sorts the pathway's advice (the pathway itself knows nothing of modes): "off" advice is
    # dropped before rendering and auditing; "silent" cards are rendered and audited but not returned.
    modes = {item.recommendation: runtime.governance.mode(item.recommendation.value, client_iss) for item in advice}
    rendered = render_cards(
        [item for item in advice if modes[item.recommendation] is not Mode.OFF],
        runtime.cards, hook_instance=request.hook_instance, service_id=service.id,
    )
    card_modes = [modes[RecommendationId(card["source"]["topic"]["code"])] for card in rendered]
    cards = [card for card, mode in zip(rendered, card_modes, strict=True) if mode is Mode.ACTIVE]
    response: dict[str, Any] = {"cards": cards}
    notes = [*request.notes, *record.notes]
    if record.skipped or notes:
        extension: dict[str, Any] = {}
        if record.skipped:
            extension[SKIPPED_EXTENSION] = record.skipped
            runtime.on_skipped(record.skipped)
        if notes:
            extension[DATA_NOTES_EXTENSION] = notes
        response["extension"] = extension
    if record.unavailable:
        runtime.on_unavailable(record.unavailable)
    runtime.audit.submit(
        InvocationRecord(
            hook_instance=request.hook_instance,
            service_id=service.id,
            hook=service.hook.value,
            patient_id=request.patient_id,
            client_iss=client_iss,
            received_at=received_at,
            duration_ms=(time.perf_counter() - started) * 1000,
            cards=[
                _issued(card, mode, runtime, service_id=service.id, hook_instance=request.hook_instance)
                for card, mode in zip(rendered, card_modes, strict=True)
            ],
            skipped_resources=record.skipped,
        )
    )
    runtime.on_cards(service.id, cards)
    return response


@dataclass(frozen=True, slots=True)
class Answer:
    """One evaluated hook request: the parsed request, the patient's record and the CDS Hooks response."""

    request: HookRequest
    record: PatientRecord
    response: dict[str, Any]


def advise(
    service: CdsService,
    payload: Any,
    *,
    cards: CardLibrary,
    settings: Settings,
    today: date,
    session: requests.Session | None = None,
) -> Answer:
    """Evaluate ``payload`` for ``service`` without auditing: the answer of :func:`answer_hook`.

    Dry runs (the sandbox, ``cgh-cds evaluate --bundle``, population runs) call this directly, so that their
    cards never enter the governance figures. Every card the pathway gives is returned, whatever its governance
    mode: a population run answers "how often would it fire if it were on?".

    :raises BadRequestError: the request is malformed or for another hook.
    :raises FhirDataUnavailableError: data the pathway needs could not be obtained (412).
    """
    request = parse_hook_request(payload, service.hook)
    record = _record(request, service, timeout_s=settings.fhir_timeout_s, session=session)
    advice = evaluate(record, service.moment, today, settings.thresholds)
    rendered = render_cards(advice, cards, hook_instance=request.hook_instance, service_id=service.id)
    response: dict[str, Any] = {"cards": rendered}
    if record.skipped or record.notes:
        extension: dict[str, Any] = {}
        if record.skipped:
            extension[SKIPPED_EXTENSION] = record.skipped
        if record.notes:
            extension[DATA_NOTES_EXTENSION] = list(record.notes)
        response["extension"] = extension
    return Answer(request, record, response)


def _issued(card: dict[str, Any], mode: Mode, runtime: Runtime, *, service_id: str,
            hook_instance: str) -> IssuedCard:
    """The audit row of one rendered card: recommendation, content version, mode and suggestions offered."""
    topic = card["source"]["topic"]
    keys = suggestion_keys(runtime.cards, service_id=service_id, hook_instance=hook_instance,
                           recommendation=RecommendationId(topic["code"]))
    return IssuedCard(
        card["uuid"], topic["code"], card["indicator"], version=topic["version"], mode=mode.value,
        suggestions=[(suggestion["uuid"], keys[suggestion["uuid"]]) for suggestion in card.get("suggestions", [])],
    )


def warm_up(app: Any) -> None:
    """Exercise every layer once before gunicorn forks, so lazily imported models and caches are shared.

    Runs the fixture scenarios' requests through data loading, the pathway and rendering, without auditing
    (warm-up traffic must not appear in the governance figures). Missing fixtures are not an error.
    """
    from service.content import fixtures_dir
    from service.scenarios import iter_scenarios
    from service.services import get_service

    runtime: Runtime = app.extensions["cgh_runtime"]
    seen: set[str] = set()
    for scenario in iter_scenarios(fixtures_dir()):
        if scenario.service in seen or scenario.expect.status != 200 or scenario.server_resources:
            continue
        service = get_service(scenario.service)
        rolled = scenario.rolled_to(date.today())
        try:
            request = parse_hook_request(rolled.request, service.hook)
            record = load_record(
                DataRequest(hook=request.hook.value, context=request.context, prefetch=request.prefetch),
                service.prefetch, timeout_s=runtime.settings.fhir_timeout_s, session=runtime.http,
                observation_filter=observation_is_used, encounter_filter=encounter_is_used,
            )
        except CdsServiceError:
            continue  # a scenario that needs a FHIR server: another one will warm this service
        seen.add(scenario.service)
        advice = evaluate(record, service.moment, date.today(), runtime.settings.thresholds)
        render_cards(advice, runtime.cards, hook_instance=request.hook_instance, service_id=service.id)

def _record(
    request: HookRequest, service: CdsService, *, timeout_s: float, session: requests.Session | None
) -> PatientRecord:
    """The patient's data for ``request``: prefetch as sent, the rest fetched from ``fhirServer``."""
    return load_record(
        DataRequest(
            hook=request.hook.value,
            context=request.context,
            prefetch=request.prefetch,
            fhir_server=request.fhir_server,
            access_token=request.access_token,
        ),
        service.prefetch,
        timeout_s=timeout_s,
        session=session,
        page_size=FALLBACK_PAGE_SIZE,
        # Only the Observations a rule reads are read at all (vital signs and labs are most of a record), and
        # only the Encounters that may be PT visits or are the visits of a Procedure.
        observation_filter=observation_is_used,
        encounter_filter=encounter_is_used,
    )
