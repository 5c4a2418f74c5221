"""Build hook only (metadata lives in pyproject.toml): ship the top-level product content inside the package.

``cards/``, ``fhir_fixtures/`` and ``openapi.yaml`` stay at the repository's top level, where their authors
work on them, and are copied whole into ``service/_content/`` of every wheel, so new files are picked up
without a packaging change. ``service/content.py`` finds them there (or beside the package in a checkout).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CONTENT = ("cards", "fhir_fixtures", "fhir_bundles", "openapi.yaml")  # keep in step with service.content.PACKAGED_ITEMS
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildPyWithContent(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the folders in place (service/content.py)
        target = Path(self.build_lib) / "service" / "_content"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in CONTENT:
            source = ROOT / name
            if not source.exists():
                raise SystemExit(f"setup.py: {source} is missing; the wheel must ship it")
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=IGNORED)
            else:
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildPyWithContent})
