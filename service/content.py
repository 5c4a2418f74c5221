"""Where the product's content lives: card definitions, the OpenAPI contract and the fixture scenarios.

They are found through the package, never through the working directory:

* in a built wheel they are package data under ``service/_content/`` (``setup.py`` copies the repository's
  top-level ``cards/``, ``fhir_fixtures/`` and ``openapi.yaml`` there at build time, whole folders, so a file
  added to them ships without a packaging change);
* in a source checkout (editable install, the tests) they are those top-level folders beside the package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: Name of the folder under the package that holds the content in a built wheel.
PACKAGED_FOLDER = "_content"
#: What ``setup.py`` copies into it: the repository's top-level product content.
PACKAGED_ITEMS = ("cards", "fhir_fixtures", "fhir_bundles", "openapi.yaml")


def package_dir() -> Path:
    return Path(str(resources.files("service")))


def is_built_package() -> bool:
    """True when running from a built wheel (content shipped inside the package)."""
    return (package_dir() / PACKAGED_FOLDER).is_dir()


def content_root() -> Path:
    """The folder holding ``cards/``, ``fhir_fixtures/`` and ``openapi.yaml``."""
    if is_built_package():
        return package_dir() / PACKAGED_FOLDER
    return package_dir().parent


def cards_dir() -> Path:
    return content_root() / "cards"


def fixtures_dir() -> Path:
    return content_root() / "fhir_fixtures"


def bundles_dir() -> Path:
    """Patient Bundles as exports hold them: the sandbox endpoint's examples (``fhir_bundles/README.md``)."""
    return content_root() / "fhir_bundles"


def openapi_path() -> Path:
    return content_root() / "openapi.yaml"


def digest(*folders: Path) -> str:
    """A fingerprint of every file in ``folders`` (names and bytes), so replicas can be compared by /readyz."""
    import hashlib

    hasher = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            hasher.update(path.relative_to(folder).as_posix().encode())
            hasher.update(b"\0")
            hasher.update(path.read_bytes())
    return f"sha256:{hasher.hexdigest()[:16]}"


def value_sets_dir() -> Path:
    """The FHIR ValueSets the pathway loads (package data of ``service.pathway``, in wheel and checkout alike)."""
    return Path(str(resources.files("service.pathway") / "valuesets"))
