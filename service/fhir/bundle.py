"""Bundles and the hook context: every resource of a prefetch value, fetched page or ``context.draftOrders``
with its ``Type/id``, and references resolved within the Bundle that carries them."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from service.errors import BadRequestError
from service.fhir.elements import as_list

#: Bundles inside Bundles (batch-response of searchsets) are read this deep; deeper ones are ignored.
MAX_BUNDLE_DEPTH = 3


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource with what is needed to read it: its ``Type/id`` and its Bundle's fullUrl map."""

    resource: dict[str, Any]
    ref: str | None
    full_urls: Mapping[str, str]
    #: True when the resource was a prefetch/fetch value on its own (a read), not a Bundle entry.
    bare: bool = False


@dataclass(frozen=True, slots=True)
class HookContext:
    """The parts of ``context`` the record is built from, checked once."""

    patient_id: str
    draft_orders: tuple[Entry, ...] = ()
    selections: frozenset[str] = frozenset()


def parse_context(context: Any) -> HookContext:
    """The patient id, draft orders and selections of a hook ``context``.

    :raises BadRequestError: ``context`` is not an object, ``patientId`` is missing or not a string,
        ``draftOrders`` is not a FHIR resource or Bundle, or ``selections`` is not an array of strings.
    """
    if not isinstance(context, Mapping):
        raise BadRequestError("context must be a JSON object holding the hook's context fields")
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not patient_id.strip():
        raise BadRequestError("context.patientId is required: the FHIR id of the patient (without 'Patient/')")
    selections = context.get("selections")
    if selections is None:
        selections = []
    if not isinstance(selections, list) or not all(isinstance(item, str) for item in selections):
        raise BadRequestError("context.selections must be an array of 'Type/id' strings")
    return HookContext(
        patient_id=patient_id.strip(),
        draft_orders=_draft_order_entries(context.get("draftOrders")),
        selections=frozenset(item.strip() for item in selections if item.strip()),
    )


def _draft_order_entries(draft_orders: Any) -> tuple[Entry, ...]:
    if draft_orders is None:
        return ()
    if not isinstance(draft_orders, dict):
        raise BadRequestError("context.draftOrders must be a FHIR Bundle of the orders being drafted")
    resource_type = draft_orders.get("resourceType")
    if resource_type == "Bundle" or (resource_type is None and "entry" in draft_orders):
        entry = draft_orders.get("entry")
        if entry is not None and not isinstance(entry, list):
            raise BadRequestError("context.draftOrders.entry must be an array of Bundle entries")
        # CDS Hooks Sandbox: draftOrders Bundles come without `type`; accept any Bundle type.
        return tuple(flatten(draft_orders))
    if isinstance(resource_type, str):
        return tuple(flatten(draft_orders))
    raise BadRequestError("context.draftOrders must be a FHIR Bundle (resourceType 'Bundle') of draft orders")


def flatten(value: Any, *, depth: int = 0) -> Iterator[Entry]:
    """Every resource in ``value`` (a resource or a Bundle, possibly nested), with its ``Type/id``."""
    if not isinstance(value, dict):
        return
    resource_type = value.get("resourceType")
    if resource_type != "Bundle" and not (depth == 0 and resource_type is None and "entry" in value):
        if isinstance(resource_type, str):
            yield Entry(value, _own_ref(value, None), {}, bare=True)
        return
    if depth >= MAX_BUNDLE_DEPTH:
        return
    entries = [e for e in as_list(value.get("entry")) if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    full_urls: dict[str, str] = {}
    refs: list[str | None] = []
    for entry in entries:
        full_url = entry.get("fullUrl")
        ref = _own_ref(entry["resource"], full_url if isinstance(full_url, str) else None)
        refs.append(ref)
        if ref is not None and isinstance(full_url, str) and full_url.strip():
            full_urls[full_url.strip()] = ref
    for entry, ref in zip(entries, refs, strict=True):
        resource = entry["resource"]
        if resource.get("resourceType") == "Bundle":
            yield from flatten(resource, depth=depth + 1)
        elif isinstance(resource.get("resourceType"), str):
            yield Entry(resource, ref, full_urls)


def _own_ref(resource: dict[str, Any], full_url: str | None) -> str | None:
    """``Type/id`` of a resource; a transaction entry without ``id`` takes it from a ``urn:uuid:`` fullUrl."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return None
    resource_id = resource.get("id")
    if isinstance(resource_id, str) and resource_id.strip() and "/" not in resource_id:
        return f"{resource_type}/{resource_id.strip()}"
    if full_url and full_url.startswith("urn:uuid:") and len(full_url) > len("urn:uuid:"):
        return f"{resource_type}/{full_url[len('urn:uuid:') :]}"
    return None


def normalise_reference(reference: str, full_urls: Mapping[str, str]) -> str | None:
    """``Type/id`` for a literal reference, or ``None`` when it cannot be resolved.

    Accepts ``Type/id``, ``Type/id/_history/n``, absolute URLs ending in either, and fullUrls of the same
    Bundle (``urn:uuid:...`` or absolute). Contained (``#id``), conditional (``Type?...``) and unresolved
    ``urn:`` references give ``None``.
    """
    ref = reference.strip()
    if ref in full_urls:
        return full_urls[ref]
    return _literal_reference(ref)


@lru_cache(maxsize=16384)
def _literal_reference(ref: str) -> str | None:
    # Every resource of a record names the same patient (and its visits and orders): parse each string once.
    if not ref or ref.startswith(("urn:", "#")) or "?" in ref:
        return None
    path = ref.split("://", 1)[1].partition("/")[2] if "://" in ref else ref
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return None
    return f"{parts[-2]}/{parts[-1]}"
