"""The pathway is pure: importing it loads no web stack, HTTP client, database or model library (issue 12)."""

from __future__ import annotations

import subprocess
import sys

_FORBIDDEN = ("flask", "werkzeug", "requests", "sqlalchemy", "pydantic")


def test_importing_the_pathway_loads_no_web_http_database_or_model_library() -> None:
    # A fresh interpreter: this test process has long since imported all of them.
    code = (
        "import sys, service.pathway\n"
        f"forbidden = {_FORBIDDEN!r}\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in forbidden)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""


def test_the_web_stack_still_imports_on_demand() -> None:
    # The lazy names of service.fhir resolve to the real objects (a typo in its table would only fail here).
    import service.fhir
    from service.fhir.loader import load_record

    assert service.fhir.load_record is load_record
    for name in service.fhir.__all__:
        assert getattr(service.fhir, name) is not None


def test_one_indicator() -> None:
    from service.pathway import Indicator as PathwayIndicator
    from service.protocol import Indicator as ProtocolIndicator

    assert ProtocolIndicator is PathwayIndicator
