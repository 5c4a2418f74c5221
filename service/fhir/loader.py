"""Prefetch resolution: from one hook request to its :class:`PatientRecord`, fetching what is missing.

Per declared prefetch key (CDS Hooks 2.0 §Prefetch: a client omits a key it could not fill and sends
``null`` for no data):

* present with data → used; a searchset ``next`` link is followed (on ``fhirServer`` only, up to the page
  cap: beyond it the oldest pages are dropped and a note says so);
* ``null`` → no data, no fetch (the client ran the query and found nothing); an empty searchset likewise;
* absent, not a JSON object, or an OperationOutcome (alone, or an error/fatal one inside a Bundle) →
  fetched from ``fhirServer`` with the tokens substituted here;
* unobtainable (no ``fhirServer``, a token the context cannot fill, 401/403/404/5xx, timeout, a body that
  is not JSON) → :class:`FhirDataUnavailableError` (412) naming the key(s) and why.

Missing keys are fetched in parallel, one worker per key, all within ``timeout_s`` in total. At the
deadline the call returns 412 at once; stragglers are cancelled and stop at their next chunk or when their
own timeouts (never longer than the budget) fire.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from typing import Any

import requests

from service.errors import FhirDataUnavailableError
from service.fhir.builder import build_record
from service.fhir.builder import parse_context
from service.fhir.client import FetchError
from service.fhir.client import FhirClient
from service.fhir.client import check_fhir_server
from service.fhir.client import make_session
from service.fhir.client import next_link
from service.fhir.coding import Coding
from service.fhir.prefetch import UnfillableTokenError
from service.fhir.prefetch import substitute_tokens
from service.fhir.record import PatientRecord
from service.fhir.request import DataRequest

log = logging.getLogger(__name__)

#: Pages read per prefetch key (the first included) before the rest is dropped.
DEFAULT_MAX_PAGES = 10

_PLURAL = {"was": "were", "has": "have"}

_default_session: requests.Session | None = None
_default_session_lock = threading.Lock()


def shared_session() -> requests.Session:
    """The process-wide pooled session used when ``load_record`` is not given one."""
    global _default_session
    with _default_session_lock:
        if _default_session is None:
            _default_session = make_session()
        return _default_session


def load_record(
    request: DataRequest,
    templates: Mapping[str, str],
    *,
    timeout_s: float,
    session: requests.Session | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    observation_filter: Callable[[tuple[Coding, ...]], bool] | None = None,
    encounter_filter: Callable[[tuple[Coding, ...], tuple[str, ...]], bool] | None = None,
) -> PatientRecord:
    """The patient's record for ``request``, from its prefetch and, for what is missing, its ``fhirServer``.

    :param templates: the prefetch templates the service declared (key → query); other keys are ignored.
    :param timeout_s: the whole budget for every FHIR call of this request (``CGH_FHIR_TIMEOUT_S``).
    :param session: a pooled session shared across requests (:func:`make_session`); a process-wide one
        is used when omitted.
    :param max_pages: pages read per key, following ``next`` links.
    :param observation_filter: which Observation codes the caller reads (see :func:`build_record`).
    :param encounter_filter: which Encounter types the caller reads (see :func:`build_record`).
    :raises BadRequestError: the context is unusable, or ``fhirServer`` is needed but not an acceptable URL.
    :raises FhirDataUnavailableError: a key's data could not be obtained; the message names the key(s).
    """
    started = time.monotonic()
    deadline = started + timeout_s
    context = parse_context(request.context)
    prefetch: Mapping[str, Any] = request.prefetch if isinstance(request.prefetch, Mapping) else {}

    sources: dict[str, list[Any]] = {key: [] for key in templates}
    to_fetch: dict[str, str] = {}  # key → why the prefetch value is not enough
    to_page: dict[str, dict[str, Any]] = {}
    for key in templates:
        present = key in prefetch
        value = prefetch.get(key)
        if present and value is None:
            continue  # CDS Hooks 2.0 §prefetch: null means the client found no data; do not re-query.
        problem = _prefetch_problem(value) if present else "was not provided"
        if problem is not None:
            to_fetch[key] = problem
        elif isinstance(value, dict) and next_link(value) is not None:
            to_page[key] = value
        else:
            sources[key].append(value)

    notes: list[str] = []
    if to_fetch or to_page:
        fetched = _fetch(
            request,
            templates,
            to_fetch=to_fetch,
            to_page=to_page,
            deadline=deadline,
            timeout_s=timeout_s,
            session=session or shared_session(),
            max_pages=max_pages,
            notes=notes,
        )
        for key, pages in fetched.items():
            sources[key].extend(pages)

    record = build_record(
        context,
        (value for key in templates for value in sources[key]),
        notes=notes,
        observation_filter=observation_filter,
        encounter_filter=encounter_filter,
    )
    log.debug(
        "record built: fetched=%s paged=%s skipped=%d in %.1f ms",
        sorted(to_fetch),
        sorted(to_page),
        record.skipped,
        (time.monotonic() - started) * 1000,
    )
    return record


def _prefetch_problem(value: Any) -> str | None:
    """Why a present prefetch value must be fetched again, or ``None`` when it can be used."""
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return "was not a FHIR resource"
    if value["resourceType"] == "OperationOutcome":
        return "held an OperationOutcome"
    if value["resourceType"] == "Bundle":
        entries = value.get("entry")
        for entry in entries if isinstance(entries, list) else ():
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
                issues = resource.get("issue")
                if any(
                    isinstance(issue, dict) and issue.get("severity") in ("error", "fatal")
                    for issue in (issues if isinstance(issues, list) else ())
                ):
                    return "held an OperationOutcome with an error"
    return None


def _fetch(
    request: DataRequest,
    templates: Mapping[str, str],
    *,
    to_fetch: Mapping[str, str],
    to_page: Mapping[str, dict[str, Any]],
    deadline: float,
    timeout_s: float,
    session: requests.Session,
    max_pages: int,
    notes: list[str],
) -> dict[str, list[Any]]:
    """Fetch the keys in ``to_fetch`` and the remaining pages of ``to_page``, in parallel, by ``deadline``.

    :raises FhirDataUnavailableError: naming every key that could not be obtained.
    """
    failures: dict[str, str]
    if request.fhir_server is None:
        failures = {key: f"{why} and fhirServer is absent" for key, why in to_fetch.items()}
        failures.update({key: "has more pages (a next link) and fhirServer is absent" for key in to_page})
        raise FhirDataUnavailableError(_message(failures) + "; send the key or a fhirServer the service can query")
    base = check_fhir_server(request.fhir_server)
    token = request.access_token if isinstance(request.access_token, str) else None
    client = FhirClient(session, base, token, deadline=deadline, budget_s=timeout_s)

    jobs: dict[str, dict[str, Any] | str] = dict(to_page)
    failures = {}
    for key, why in to_fetch.items():
        try:
            jobs[key] = client.url(substitute_tokens(templates[key], request.context))
        except UnfillableTokenError as error:
            failures[key] = f"{why} and cannot be fetched: {error}"
    if failures:
        raise FhirDataUnavailableError(_message(failures))

    executor = ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="fhir-fetch")
    try:
        futures: dict[str, Future[tuple[list[dict[str, Any]], bool]]] = {
            key: executor.submit(client.pages, job, max_pages) for key, job in jobs.items()
        }
        wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
    finally:
        client.cancelled.set()
        executor.shutdown(wait=False, cancel_futures=True)

    fetched: dict[str, list[Any]] = {}
    for key, future in futures.items():
        prefix = f"{to_fetch[key]} and " if key in to_fetch else "has more pages, but "
        if not future.done():
            failures[key] = f"{prefix}fhirServer {client.timeout_reason()}"
            continue
        try:
            pages, truncated = future.result()
        except FetchError as error:
            failures[key] = f"{prefix}fhirServer {error.reason}"
            continue
        if truncated:
            notes.append(f"prefetch key '{key}': read the first {max_pages} pages only (page cap)")
        fetched[key] = list(pages)
    if failures:
        log.info("FHIR data unavailable for keys %s", sorted(failures))
        raise FhirDataUnavailableError(_message(failures))
    return fetched


def _message(failures: Mapping[str, str]) -> str:
    """One sentence per distinct reason, naming the keys: "prefetch keys 'a', 'b' was not provided ..."."""
    by_reason: dict[str, list[str]] = {}
    for key, reason in failures.items():
        by_reason.setdefault(reason, []).append(key)
    sentences = []
    for reason, keys in by_reason.items():
        names = ", ".join(f"'{key}'" for key in keys)
        if len(keys) > 1:
            verb, _, rest = reason.partition(" ")
            reason = f"{_PLURAL.get(verb, verb)} {rest}"
        sentences.append(f"prefetch key{'s' if len(keys) > 1 else ''} {names} {reason}")
    return "; ".join(sentences)
