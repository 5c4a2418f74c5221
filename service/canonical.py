"""The canonical URLs of everything this service defines: CodeSystems, ValueSets and extensions.

One base, one spelling (``http``, as the fixtures -- a public interface -- have always used it). Every module that
mints or reads one of our URLs imports it from here, and ``tests/unit/test_canonical_urls.py`` fails on any
other spelling of the base in the repository's tracked files.
"""

from __future__ import annotations

from typing import Final

#: Base of every canonical URL we define.
BASE: Final = "http://cgh-cds.example.org/fhir"
CODE_SYSTEM_BASE: Final = f"{BASE}/CodeSystem/"
VALUE_SET_BASE: Final = f"{BASE}/ValueSet/"
EXTENSION_BASE: Final = f"{BASE}/StructureDefinition/"

#: ``card.source.topic.system``: code = recommendation id, display = card title.
RECOMMENDATION_SYSTEM: Final = CODE_SYSTEM_BASE + "recommendation"
#: ``card.overrideReasons[].system``.
OVERRIDE_REASON_SYSTEM: Final = CODE_SYSTEM_BASE + "override-reason"


def value_set_url(name: str) -> str:
    """The canonical URL of our ValueSet ``name`` (the file ``service/pathway/valuesets/<name>.json``)."""
    return VALUE_SET_BASE + name


def extension(name: str) -> str:
    """The canonical URL of our extension (StructureDefinition) ``name``."""
    return EXTENSION_BASE + name
