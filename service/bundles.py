"""Bring your own FHIR data: from a patient Bundle (or a Bulk Data NDJSON folder) to the hook request an EHR sends.

Integration testers arrive with Synthea bundles, EHR exports and Bulk Data folders, not with prefetch keys. This
module reads those (transaction, batch, collection and searchset Bundles; ``*.ndjson`` files), resolves
``urn:uuid:`` references to ``Type/id``, splits the resources by patient and, per patient, builds the CDS Hooks
2.0 request an EHR would send to one of our services: the context (patient, the latest encounter for
``encounter-start``, the drafted orders for the order hooks) and the prefetch of the service's discovery
templates, each template run as a search over the patient's resources. Nothing here evaluates or renders.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import orjson

from service.errors import BadRequestError
from service.errors import UnprocessableDataError
from service.fhir.prefetch import substitute_tokens
from service.protocol.enums import Hook
from service.services import CdsService

#: ``context.userId`` of the requests built here (the fixtures' user): a bundle does not say who is at the keyboard.
BUNDLE_USER_ID = "Practitioner/example"
#: The FHIR base the searchset entries' ``fullUrl`` names, as a FHIR server would answer the prefetch searches.
FHIR_BASE = "http://ehr.example.org/fhir"
#: Resource types a drafted order may have (CDS Hooks order-select / order-sign ``draftOrders``).
ORDER_TYPES = frozenset({"ServiceRequest", "MedicationRequest", "NutritionOrder", "VisionPrescription",
                         "DeviceRequest", "CommunicationRequest"})
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
BUNDLE_TYPES = frozenset({"transaction", "batch", "collection", "searchset"})
#: The elements naming whose record a resource belongs to (R4 ``subject``, DSTU2/R4 ``patient``, Coverage).
_PATIENT_ELEMENTS = ("subject", "patient", "beneficiary")
#: Search parameters the prefetch templates may use that a bundle can answer; ``_count`` and ``_sort`` only
#: shape pages, and a bundle is one page.
_PAGING_PARAMETERS = frozenset({"_count", "_sort"})


@dataclass(slots=True)
class PatientData:
    """One patient's resources from a bundle or NDJSON folder, references resolved to ``Type/id``."""

    patient: dict[str, Any]
    resources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def patient_id(self) -> str:
        return str(self.patient["id"])


# ------------------------------------------------------------------------------------------------ reading


def read_resources(path: Path) -> list[dict[str, Any]]:
    """Every resource of a Bundle file, a single-resource file, an ``.ndjson`` file or a folder of them.

    A folder is read as a Bulk Data export: every ``*.ndjson`` file in it, and any ``*.json`` Bundle. Entries'
    ``urn:uuid:`` fullUrls are resolved to ``Type/id`` wherever they are referenced.

    :raises BadRequestError: the file is not JSON, not a Bundle of a supported type, or holds no resources.
    """
    if path.is_dir():
        files = sorted([*path.glob("*.ndjson"), *path.glob("*.json")])
        if not files:
            raise BadRequestError(f"{path}: the folder holds no .ndjson or .json files")
        return [resource for file in files for resource in read_resources(file)]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadRequestError(f"{path}: cannot be read ({exc.strerror})") from None
    if path.suffix == ".ndjson":
        return list(_ndjson(path, raw))
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"{path}: not valid JSON ({exc})") from None
    return bundle_resources(document, where=str(path))


def _ndjson(path: Path, raw: bytes) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise BadRequestError(f"{path}: line {number} is not a JSON object") from None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequestError(f"{path}: line {number} is not a FHIR resource (no resourceType)")
        yield resource


def bundle_resources(document: Any, *, where: str = "the body") -> list[dict[str, Any]]:
    """The resources of a Bundle (or of one resource), with ``urn:uuid:`` references resolved.

    :raises BadRequestError: not a FHIR resource, a Bundle of an unsupported type, or an entry without resource.
    """
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        raise BadRequestError(f"{where}: not a FHIR resource (a JSON object with a resourceType)")
    if document["resourceType"] != "Bundle":
        return [document]
    bundle_type = document.get("type")
    if not isinstance(bundle_type, str) or bundle_type not in BUNDLE_TYPES:
        raise BadRequestError(
            f"{where}: a Bundle of type {bundle_type!r} is not accepted; give a transaction, batch, collection or "
            "searchset Bundle"
        )
    entries = document.get("entry") or []
    if not isinstance(entries, list):
        raise BadRequestError(f"{where}: Bundle.entry must be an array")
    resources: list[dict[str, Any]] = []
    local: dict[str, str] = {}  # fullUrl -> Type/id
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequestError(f"{where}: Bundle.entry[{index}] has no resource")
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str) and full_url.startswith("urn:uuid:") and not resource.get("id"):
            resource = {**resource, "id": full_url[len("urn:uuid:"):]}
        if isinstance(resource.get("id"), str) and isinstance(full_url, str):
            local[full_url] = f"{resource['resourceType']}/{resource['id']}"
        resources.append(resource)
    if not local:
        return resources
    return [_resolved(resource, local) for resource in resources]


def _resolved(value: Any, local: Mapping[str, str]) -> Any:
    """``value`` with every ``reference`` naming a fullUrl of the bundle rewritten to ``Type/id``."""
    if isinstance(value, dict):
        return {
            key: (local.get(item, item) if key == "reference" and isinstance(item, str) else _resolved(item, local))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolved(item, local) for item in value]
    return value


def by_patient(resources: Iterable[dict[str, Any]]) -> list[PatientData]:
    """The resources grouped per Patient, in the order the Patients appear.

    A resource belongs to the patient its ``subject`` (or ``patient``, ``beneficiary``) references; resources
    of no patient (Organization, Practitioner...) and of a patient the data does not hold are left out.
    """
    patients: dict[str, PatientData] = {}
    others: list[tuple[str, dict[str, Any]]] = []
    for resource in resources:
        if resource["resourceType"] == "Patient":
            patient_id = resource.get("id")
            if isinstance(patient_id, str) and patient_id:
                patients.setdefault(patient_id, PatientData(resource))
            continue
        owner = patient_of(resource)
        if owner is not None:
            others.append((owner, resource))
    for owner, resource in others:
        if owner in patients:
            patients[owner].resources.append(resource)
    return list(patients.values())


def patient_of(resource: Mapping[str, Any]) -> str | None:
    """The id of the Patient ``resource`` belongs to, from a ``Patient/<id>`` reference (relative or absolute)."""
    for element in _PATIENT_ELEMENTS:
        value = resource.get(element)
        reference = value.get("reference") if isinstance(value, dict) else None
        if isinstance(reference, str) and "Patient/" in reference:
            tail = reference.rsplit("Patient/", 1)[1]
            return tail.split("/", 1)[0] or None
    return None


def read_patients(path: Path) -> list[PatientData]:
    """:func:`read_resources` then :func:`by_patient`.

    :raises BadRequestError: the data cannot be read or holds no Patient.
    """
    patients = by_patient(read_resources(path))
    if not patients:
        raise BadRequestError(f"{path}: no Patient resource found; the data must hold the patient it describes")
    return patients


# ------------------------------------------------------------------------------------------------ drafts


def parse_draft_code(text: str) -> tuple[str, str]:
    """``SYSTEM|CODE`` as a pair.

    :raises BadRequestError: not written ``system|code``.
    """
    system, bar, code = text.partition("|")
    if not bar or not system or not code or "|" in code:
        raise BadRequestError(f"draft code {text!r} must be written SYSTEM|CODE, e.g. http://snomed.info/sct|91251008")
    return system, code


def draft_from_code(system: str, code: str) -> dict[str, Any]:
    """A drafted order coded ``system|code``: a MedicationRequest for RxNorm, a ServiceRequest otherwise."""
    concept = {"coding": [{"system": system, "code": code}]}
    if system == RXNORM:
        return {"resourceType": "MedicationRequest", "status": "draft", "intent": "order",
                "medicationCodeableConcept": concept}
    return {"resourceType": "ServiceRequest", "status": "draft", "intent": "order", "code": concept}


def read_drafts(path: Path) -> list[dict[str, Any]]:
    """The orders of a draft file: one resource or a Bundle of them.

    :raises BadRequestError: unreadable, or a resource that is not an order type.
    """
    resources = read_resources(path)
    for resource in resources:
        if resource["resourceType"] not in ORDER_TYPES:
            raise BadRequestError(f"{path}: a {resource['resourceType']} is not an order; drafts must be one of "
                                  f"{', '.join(sorted(ORDER_TYPES))}")
    return resources


# ------------------------------------------------------------------------------------------- hook request


def hook_request(
    data: PatientData,
    service: CdsService,
    *,
    drafts: Sequence[Mapping[str, Any]] = (),
    hook_instance: str | None = None,
) -> dict[str, Any]:
    """The CDS Hooks 2.0 request an EHR would send to ``service`` for this patient.

    The prefetch holds every key of ``service.prefetch``, each template run as a search over the patient's
    resources (an empty searchset when nothing matches). Order hooks get ``drafts`` (made this patient's) as
    ``draftOrders``, all of them selected for ``order-select``; without ``drafts`` the patient's own orders
    with status ``draft`` are the drafted orders. ``encounter-start`` names the latest Encounter.

    :raises UnprocessableDataError: ``encounter-start`` for a patient with no Encounter.
    """
    context: dict[str, Any] = {"userId": BUNDLE_USER_ID, "patientId": data.patient_id}
    orders: list[dict[str, Any]] = []
    if service.hook in (Hook.ORDER_SELECT, Hook.ORDER_SIGN):
        orders = _drafted_orders(data, drafts)
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": order} for order in orders]}
        if service.hook is Hook.ORDER_SELECT:
            context["selections"] = [f"{order['resourceType']}/{order['id']}" for order in orders]
    if service.hook is Hook.ENCOUNTER_START:
        encounter = latest_encounter(data)
        if encounter is None:
            raise UnprocessableDataError(
                f"patient {data.patient_id} has no Encounter with an id: encounter-start needs the encounter "
                "that starts"
            )
        context["encounterId"] = encounter["id"]
    drafted = {(order["resourceType"], order["id"]) for order in orders}
    searchable = [r for r in data.resources if (r["resourceType"], r.get("id")) not in drafted]
    prefetch = {key: run_template(template, context, data.patient, searchable)
                for key, template in service.prefetch.items()}
    return {
        "hook": service.hook.value,
        "hookInstance": hook_instance or str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch,
    }


def _drafted_orders(data: PatientData, drafts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not drafts:
        return [r for r in data.resources if r["resourceType"] in ORDER_TYPES and r.get("status") == "draft"
                and isinstance(r.get("id"), str)]
    orders = []
    for number, draft in enumerate(drafts, start=1):
        order = dict(draft)
        order.setdefault("id", f"draft-{number}")
        order.setdefault("status", "draft")
        order["subject"] = {"reference": f"Patient/{data.patient_id}"}
        orders.append(order)
    return orders


def latest_encounter(data: PatientData) -> dict[str, Any] | None:
    """The Encounter that started last (``period.start``, else ``period.end``), or ``None``."""
    encounters = [r for r in data.resources if r["resourceType"] == "Encounter" and isinstance(r.get("id"), str)]
    if not encounters:
        return None

    def started(encounter: Mapping[str, Any]) -> str:
        period = encounter.get("period")
        if isinstance(period, dict):
            value = period.get("start") or period.get("end")
            if isinstance(value, str):
                return value
        return ""

    return max(encounters, key=started)


def run_template(
    template: str, context: Mapping[str, Any], patient: Mapping[str, Any], resources: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """What a FHIR server holding ``resources`` answers to the prefetch ``template``: a read or a searchset.

    Reads (``Patient/{{context.patientId}}``) and searches by ``patient``, ``status``, ``intent`` and ``code``
    (``system|code`` tokens, as FHIR token search matches them) are answered; any other
    search parameter is refused, so a template that grows one is noticed here rather than silently ignored.

    :raises ValueError: the template uses a search parameter this module cannot answer.
    """
    url = substitute_tokens(template, context)
    parts = urlsplit(url)
    resource_type, _, read_id = parts.path.partition("/")
    if read_id:
        if resource_type == "Patient" and read_id == patient.get("id"):
            return dict(patient)
        matches = [r for r in resources if r["resourceType"] == resource_type and r.get("id") == read_id]
        if not matches:
            raise BadRequestError(f"the data holds no {resource_type}/{read_id}")
        return dict(matches[0])
    found = [r for r in resources if r["resourceType"] == resource_type]
    for name, values in parse_qs(parts.query).items():
        allowed = {v for value in values for v in value.split(",")}
        if name == "patient":
            found = [r for r in found if patient_of(r) in allowed]
        elif name in ("status", "intent"):
            found = [r for r in found if isinstance(r.get(name), str) and r[name] in allowed]
        elif name == "code":
            found = [r for r in found if _has_code_token(r, allowed)]
        elif name not in _PAGING_PARAMETERS:
            raise ValueError(f"prefetch template {template!r}: search parameter {name!r} is not supported here")
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "entry": [{"fullUrl": f"{FHIR_BASE}/{r['resourceType']}/{r.get('id')}", "resource": r,
                   "search": {"mode": "match"}} for r in found],
    }


def _has_code_token(resource: Mapping[str, Any], tokens: set[str]) -> bool:
    """Whether a coding of ``resource.code`` matches a FHIR token: ``system|code``, ``|code`` (no system) or
    ``code`` (any system)."""
    concept = resource.get("code")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
            continue
        system = coding.get("system") if isinstance(coding.get("system"), str) else ""
        code = coding["code"]
        if f"{system}|{code}" in tokens or code in tokens or (not system and f"|{code}" in tokens):
            return True
    return False
