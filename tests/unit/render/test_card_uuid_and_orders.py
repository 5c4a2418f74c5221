"""The fast paths of rendering give exactly what the slow ones gave: card uuids and validated ServiceRequests."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.render._cards import UUID_NAMESPACE
from service.render._cards import card_uuid
from service.render._orders import OrderTemplate
from service.render._orders import validated_service_request

_ORDER = OrderTemplate(key="pt-referral", system="http://snomed.info/sct", code="91251008", display="Physical therapy",
                       text="Physical therapy referral", description="Refer to physical therapy")


@given(st.text())
def test_card_uuid_is_uuid5_of_the_namespace(name: str) -> None:
    try:
        expected = str(uuid.uuid5(UUID_NAMESPACE, name))
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            card_uuid(name)
        return
    assert card_uuid(name) == expected


def test_card_uuid_of_a_real_card_name() -> None:
    name = "cgh-patient-view/d5f1c2a0-hook-instance/pt-first-line/create-pt-referral"
    assert card_uuid(name) == str(uuid.uuid5(UUID_NAMESPACE, name))


@pytest.mark.parametrize("reason", [None, "Condition/c-1"])
def test_a_service_request_is_the_same_whether_its_verdict_was_remembered(reason: str | None) -> None:
    first = validated_service_request(_ORDER, "Patient/p-1", reason)
    again = validated_service_request(_ORDER, "Patient/other.2", reason)
    assert again == {**first, "subject": {"reference": "Patient/other.2"}}
    assert first["code"] == {"coding": [{"system": _ORDER.system, "code": _ORDER.code, "display": _ORDER.display}],
                             "text": _ORDER.text}
    assert ("reasonReference" in first) is (reason is not None)


@pytest.mark.parametrize("reason", [None, "Condition/c-1"])
def test_an_invalid_template_is_refused_every_time(reason: str | None) -> None:
    broken = OrderTemplate(key="broken", system="http://snomed.info/sct", code="", display=None, text="x",
                           description="d")  # an empty code is not a FHIR code
    for _ in range(2):
        with pytest.raises(ValueError, match="ServiceRequest for broken is not valid FHIR"):
            validated_service_request(broken, "Patient/p-1", reason)


def test_a_reference_of_another_shape_is_validated_in_full() -> None:
    with pytest.raises(ValueError, match="not valid FHIR"):
        validated_service_request(_ORDER, "", None)  # an empty string is not a FHIR string: the model refuses it
