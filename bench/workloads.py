"""The requests the benchmark sends: fixture scenarios padded to size, and Synthea patients as prefetch.

Every workload is a complete CDS Hooks request (``body``: the exact bytes sent) for one service, with what
it must answer, so the benchmark measures correct work only:

* ``small`` / ``typical``: fixture scenarios rolled to today. ``typical`` pads a fixture to ≈50 resources
  with vital-sign and laboratory Observations taken from a Synthea patient (ids and subjects rewritten to the
  fixture's patient); the padded request must still pass the fixture's expectations.
* ``synthea split``: a Synthea R4 transaction Bundle split into the six prefetch keys the services declare
  (``patient`` read, five searchset Bundles with every resource of that type, no server-side filtering or
  paging: the worst case an EHR can send), plus an injected Condition G44.86 (ICD-10-CM, confirmed, active)
  so the pathway runs.
* ``synthea naive``: the same patient the way a naive client sends it: the whole transaction Bundle (Claims,
  EOBs, Encounters and all, with the injected Condition) as the ``patient`` value and ``null`` for the other
  keys (CDS Hooks 2.0: "no data", so nothing is fetched).

Stdlib and orjson only, plus the scenario loader.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from service.config import PROJECT_ROOT
from service.scenarios import Scenario
from service.scenarios import load_scenario

FIXTURES = PROJECT_ROOT / "fhir_fixtures"
SYNTHEA_DIR = PROJECT_ROOT / "tests" / "data" / "realworld" / "synthea-r4"
#: The Synthea patient whose Observations pad the fixtures to the typical size (a small, stable file).
PAD_SOURCE = "Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"
TYPICAL_RESOURCES = 50

PREFETCH_TYPES: dict[str, str] = {
    "conditions": "Condition",
    "procedures": "Procedure",
    "servicerequests": "ServiceRequest",
    "medicationrequests": "MedicationRequest",
    "observations": "Observation",
    "encounters": "Encounter",
}

#: Fixture per hook for the small and typical workloads.
SMALL_FIXTURE = "pt-trial-in-progress/pt-sessions-5-at-10-weeks-patient-view.json"
TYPICAL_FIXTURES: dict[str, str] = {
    "cgh-patient-view": "escalate-percutaneous/s04-after-gon-block-patient-view.json",
    "cgh-encounter-start": "escalate-percutaneous/s04-after-gon-block-encounter-start.json",
    "cgh-order-select": "imaging-not-indicated/s07-mri-no-red-flags-order-select.json",
    "cgh-order-sign": "escalate-occipital-nerve-block/s03-gon-block-ordered-order-sign.json",
}


@dataclass(frozen=True)
class Workload:
    """One request: its name, service, body bytes and resource count; ``scenario`` when it has expectations."""

    name: str
    kind: str
    service: str
    request: dict[str, Any]
    resources: int
    scenario: Scenario | None = None
    #: For the FHIR-fallback run: the resources the FHIR server must hold (the prefetch content).
    server_resources: list[dict[str, Any]] = field(default_factory=list)
    body: bytes = b""
    #: Whether the pathway must answer with cards (a deceased Synthea patient gets exactly no cards).
    expect_cards: bool = True

    def __post_init__(self) -> None:
        if not self.body:
            object.__setattr__(self, "body", orjson.dumps(self.request))

    @property
    def size_kb(self) -> float:
        return len(self.body) / 1024

    def without_prefetch(self, fhir_server: str) -> Workload:
        """The same request with ``prefetch`` removed and ``fhirServer`` set (the FHIR fallback)."""
        request = {k: v for k, v in self.request.items() if k != "prefetch"}
        request["fhirServer"] = fhir_server
        return Workload(f"{self.name} (fallback)", "fallback", self.service, request, self.resources,
                        self.scenario, self.server_resources, expect_cards=self.expect_cards)


def count_resources(request: dict[str, Any]) -> int:
    """Resources in the prefetch values and ``context.draftOrders`` (Bundle entries, or 1 for a read)."""
    total = 0
    values = list((request.get("prefetch") or {}).values()) + [request["context"].get("draftOrders")]
    for value in values:
        if isinstance(value, dict):
            total += len(value.get("entry") or []) if value.get("resourceType") == "Bundle" else 1
    return total


def _prefetch_resources(request: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for value in (request.get("prefetch") or {}).values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            out.extend(e["resource"] for e in value.get("entry") or [] if isinstance(e.get("resource"), dict))
        else:
            out.append(value)
    return out


def _pad_observations(patient_id: str, count: int) -> list[dict[str, Any]]:
    """``count`` Synthea vital-sign/lab Observations re-homed to ``patient_id`` (deterministic)."""
    bundle = orjson.loads((SYNTHEA_DIR / PAD_SOURCE).read_bytes())
    source = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    out = []
    for index in range(count):
        resource = copy.deepcopy(source[index % len(source)])
        resource["id"] = f"pad-{patient_id}-{index}"[-64:]
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
        resource.pop("encounter", None)
        out.append(resource)
    return out


def fixture_workload(name: str, relative: str, today: date, *, pad_to: int | None = None) -> Workload:
    """A fixture scenario rolled to ``today``, optionally padded with Observations to ``pad_to`` resources."""
    scenario = load_scenario(FIXTURES / relative).rolled_to(today)
    request = copy.deepcopy(scenario.request)
    if pad_to is not None:
        missing = pad_to - count_resources(request)
        if missing > 0:
            observations = request["prefetch"].get("observations")
            if not isinstance(observations, dict):
                observations = {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}
                request["prefetch"]["observations"] = observations
            observations.setdefault("entry", [])
            for resource in _pad_observations(request["context"]["patientId"], missing):
                observations["entry"].append({"fullUrl": f"Observation/{resource['id']}", "resource": resource})
            observations["total"] = len(observations["entry"])
    padded = Scenario(path=scenario.path, title=scenario.title, scenario=scenario.scenario,
                      reference_date=scenario.reference_date, service=scenario.service, request=request,
                      server_resources=scenario.server_resources, expect=scenario.expect)
    return Workload(name, "fixture", scenario.service, request, count_resources(request), padded,
                    _prefetch_resources(request))


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "search": {"mode": "match"}} for r in resources],
    }


def cgh_condition(patient_id: str, today: date) -> dict[str, Any]:
    """Confirmed, active cervicogenic headache (ICD-10-CM G44.86) for ``patient_id``, recorded 60 days ago."""
    onset = (today - timedelta(days=60)).isoformat()
    return {
        "resourceType": "Condition",
        "id": f"bench-cgh-{patient_id[:8]}",
        "clinicalStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "problem-list-item"}]}],
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G44.86",
                             "display": "Cervicogenic headache"}], "text": "Cervicogenic headache"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "onsetDateTime": onset,
        "recordedDate": onset,
    }


def synthea_files() -> list[Path]:
    """The Synthea bundles, largest first."""
    return sorted(SYNTHEA_DIR.glob("*.json"), key=lambda p: p.stat().st_size, reverse=True)


def synthea_workloads(path: Path, today: date) -> tuple[Workload, Workload]:
    """The split (prefetch keys) and naive (whole Bundle) requests for one Synthea patient."""
    bundle = orjson.loads(path.read_bytes())
    resources = [e["resource"] for e in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    patient_id = patient["id"]
    injected = cgh_condition(patient_id, today)
    label = path.stem.rsplit("_", 1)[0]
    context = {"userId": "Practitioner/bench", "patientId": patient_id}

    prefetch: dict[str, Any] = {"patient": patient}
    for key, resource_type in PREFETCH_TYPES.items():
        matching = [r for r in resources if r["resourceType"] == resource_type]
        if resource_type == "Condition":
            matching.append(injected)
        prefetch[key] = _searchset(matching)
    split_request = {"hook": "patient-view", "hookInstance": f"bench-{patient_id}", "context": context,
                     "prefetch": prefetch}
    server = [patient] + [e["resource"] for key in PREFETCH_TYPES for e in prefetch[key]["entry"]]
    alive = not (patient.get("deceasedDateTime") or patient.get("deceasedBoolean"))
    split = Workload(f"synthea {label}", "synthea-split", "cgh-patient-view", split_request,
                     count_resources(split_request), server_resources=server, expect_cards=alive)

    whole = dict(bundle)
    whole["entry"] = [*bundle["entry"], {"fullUrl": f"urn:uuid:{injected['id']}", "resource": injected,
                                         "request": {"method": "POST", "url": "Condition"}}]
    naive_prefetch: dict[str, Any] = {"patient": whole, **{key: None for key in PREFETCH_TYPES}}
    naive_request = {"hook": "patient-view", "hookInstance": f"bench-naive-{patient_id}", "context": context,
                     "prefetch": naive_prefetch}
    naive = Workload(f"synthea {label} naive", "synthea-naive", "cgh-patient-view", naive_request,
                     len(whole["entry"]), expect_cards=alive)
    return split, naive


def typical_workloads(today: date) -> dict[str, Workload]:
    """Each service's typical (≈50 resources) request."""
    return {service: fixture_workload(f"typical {service.removeprefix('cgh-')}", relative, today,
                                      pad_to=TYPICAL_RESOURCES)
            for service, relative in TYPICAL_FIXTURES.items()}


def small_workload(today: date) -> Workload:
    return fixture_workload("small patient-view", SMALL_FIXTURE, today)


def iter_synthea(today: date, limit: int | None = None) -> Iterator[tuple[Workload, Workload]]:
    for path in synthea_files()[:limit]:
        yield synthea_workloads(path, today)
