"""Turn a fixture's prefetch into the transaction Bundle an EHR export would hold (test helper, no assertions).

Every resource gets a ``urn:uuid:`` fullUrl (as in a Synthea transaction Bundle) and every reference to a
resource of the Bundle is rewritten to that fullUrl, so reading it back exercises the ``urn:uuid:`` resolution
of ``service.bundles``. With ``keep_ids=False`` the resources also lose their ids (a server would assign them).
"""

from __future__ import annotations

import uuid
from typing import Any

from service.scenarios import Scenario


def fixture_resources(scenario: Scenario) -> list[dict[str, Any]]:
    """The Patient, every prefetched resource and every drafted order of ``scenario``, each once."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    values = list((scenario.request.get("prefetch") or {}).values())
    values.append(scenario.request["context"].get("draftOrders"))
    for value in values:
        if not isinstance(value, dict):
            continue
        resources = [e["resource"] for e in value.get("entry", [])] if value["resourceType"] == "Bundle" else [value]
        for resource in resources:
            seen.setdefault((resource["resourceType"], resource["id"]), resource)
    context = scenario.request["context"]
    patient = next((r for r in seen.values() if r["resourceType"] == "Patient"), None)
    if context.get("encounterId") and ("Encounter", context["encounterId"]) not in seen and patient is not None:
        # The encounter that starts, which the fixture names without prefetching it: an export holds it.
        seen[("Encounter", context["encounterId"])] = {
            "resourceType": "Encounter", "id": context["encounterId"], "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{patient['id']}"},
            "period": {"start": f"{scenario.reference_date.isoformat()}T09:00:00Z"},
        }
    return list(seen.values())


def full_url(resource_type: str, resource_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{resource_type}/{resource_id}')}"


def transaction_bundle(
    resources: list[dict[str, Any]], bundle_type: str = "transaction", *, keep_ids: bool = True
) -> dict[str, Any]:
    """A Bundle of ``resources`` with urn:uuid fullUrls and references (ids removed unless ``keep_ids``)."""
    urls = {f"{r['resourceType']}/{r['id']}": full_url(r["resourceType"], r["id"]) for r in resources}

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (urls.get(v, v) if k == "reference" and isinstance(v, str) else rewrite(v))
                    for k, v in value.items() if keep_ids or k != "id" or not isinstance(v, str)}
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    entries = []
    for resource in resources:
        entry: dict[str, Any] = {"fullUrl": urls[f"{resource['resourceType']}/{resource['id']}"],
                                 "resource": rewrite(resource)}
        if bundle_type in ("transaction", "batch"):
            entry["request"] = {"method": "POST", "url": resource["resourceType"]}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": bundle_type, "entry": entries}
