"""``POST /sandbox/evaluate/{service_id}``: a FHIR Bundle in, the CDS Hooks response out (``CGH_SANDBOX=on``).

A sandbox developer tries real data in Swagger UI without learning prefetch: the Bundle becomes the hook
request an EHR would send (``service.bundles``) and is answered as a hook call is, without auditing (sandbox
traffic must not enter the governance figures). Off unless ``CGH_SANDBOX=on``; the admin token is needed when
authentication is required, as for ``/analytics``.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

from service.bundles import PatientData
from service.bundles import bundle_resources
from service.bundles import by_patient
from service.bundles import draft_from_code
from service.bundles import hook_request
from service.bundles import parse_draft_code
from service.errors import BadRequestError
from service.errors import UnknownServiceError
from service.errors import UnprocessableDataError
from service.invocation import Runtime
from service.invocation import advise
from service.services import get_service
from service.web.admin import require_admin
from service.web.body import read_json_body

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")


def _require_sandbox(runtime: Runtime) -> None:
    if not runtime.settings.sandbox:
        # Answered as an unknown route would be: a production server does not advertise its switched-off tools.
        raise UnknownServiceError("The sandbox is off on this server (CGH_SANDBOX=on turns it on).",
                                  code="sandbox-off")
    require_admin(runtime, "the sandbox")


@bp.post("/evaluate/<service_id>")
def evaluate(service_id: str) -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    _require_sandbox(runtime)
    service = get_service(service_id)
    body = read_json_body()
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise BadRequestError('Send a FHIR Bundle: {"resourceType": "Bundle", "type": "collection", "entry": [...]}.')
    patients = by_patient(bundle_resources(body))
    data = _chosen_patient(patients, request.args.get("patientId"))
    drafts = [draft_from_code(*parse_draft_code(text)) for text in request.args.getlist("draftCode")]
    today = runtime.settings.today or date.today()
    try:
        answer = advise(service, hook_request(data, service, drafts=drafts), cards=runtime.cards,
                        settings=runtime.settings, session=runtime.http, today=today)
    except UnprocessableDataError:
        raise
    except BadRequestError as error:
        # The Bundle kept the contract; what is refused is the hook request built from its data, which the
        # caller did not write: say so, as a 422 (the contract cannot describe every FHIR rule the service reads).
        raise UnprocessableDataError(f"The Bundle's data cannot be evaluated: {error.message}") from None
    return jsonify(answer.response)


def _chosen_patient(patients: list[PatientData], patient_id: str | None) -> PatientData:
    """The Patient to evaluate. The contract cannot tie ``patientId`` to the Bundle's content, so a Bundle
    that does not hold the Patient asked for (or any, or says not which of several) is a 422, not a 400."""
    if not patients:
        raise UnprocessableDataError("The Bundle holds no Patient; include the Patient its resources belong to.")
    if patient_id is not None:
        for data in patients:
            if data.patient_id == patient_id:
                return data
        raise UnprocessableDataError("No Patient of the Bundle has the patientId given.")
    if len(patients) > 1:
        raise UnprocessableDataError(f"The Bundle holds {len(patients)} Patients; choose one with ?patientId=<id>.")
    return patients[0]
