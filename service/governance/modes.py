"""Governance: whether each recommendation is ``active``, ``silent`` or ``off``, per site and per CDS client.

Read from the file named by ``CGH_GOVERNANCE_FILE`` (YAML or JSON), validated once at start-up::

    recommendations:            # the site's modes; a recommendation not listed is active
      pt-first-line: silent
      refractory-options: "off"
    clients:                    # optional overrides for one CDS client, keyed by its JWT ``iss``
      https://ehr.example.org:
        recommendations:
          pt-first-line: active

``active`` cards are returned; ``silent`` cards are evaluated, rendered and audited as silent but not returned
(a trial run that measures how often a rule would fire); ``off`` cards are neither returned nor audited. The
pathway knows nothing of this: :func:`service.invocation.answer_hook` sorts its advice by mode.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import yaml
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from service.errors import ConfigError
from service.pathway.advice import RecommendationId
from service.validation import flatten_messages


class Mode(StrEnum):
    ACTIVE = "active"
    SILENT = "silent"
    OFF = "off"


_MODE_NAMES = [mode.value for mode in Mode]
_RECOMMENDATION_IDS = [rec.value for rec in RecommendationId]


class _ModeField(fields.String):
    """A mode name. YAML 1.1 reads an unquoted ``off`` as false: that is taken as ``off``, not an error."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        if value is False:
            value = Mode.OFF.value
        return super()._deserialize(value, attr, data, **kwargs)


def _modes_field() -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.OneOf(_RECOMMENDATION_IDS, error="unknown recommendation id {input!r}")),
        values=_ModeField(validate=validate.OneOf(_MODE_NAMES, error="mode {input!r} is not one of {choices}")),
        load_default=dict,
    )


class _ClientSchema(Schema):
    recommendations = _modes_field()


class _GovernanceSchema(Schema):
    recommendations = _modes_field()
    clients = fields.Dict(keys=fields.String(validate=validate.Length(min=1)), values=fields.Nested(_ClientSchema),
                          load_default=dict)


@dataclass(frozen=True, slots=True)
class Governance:
    """The modes in force: the site's, and each client's overrides. Empty: everything active."""

    site: Mapping[str, Mode] = field(default_factory=dict)
    clients: Mapping[str, Mapping[str, Mode]] = field(default_factory=dict)
    source: str = "(default: every recommendation active)"

    def mode(self, recommendation: str, client_iss: str | None) -> Mode:
        """The mode of ``recommendation`` for calls from ``client_iss`` (client override, else site, else active)."""
        if client_iss is not None:
            override = self.clients.get(client_iss, {}).get(recommendation)
            if override is not None:
                return override
        return self.site.get(recommendation, Mode.ACTIVE)

    def not_active(self) -> dict[str, str]:
        """Every site or client mode other than active, as ``{"site:<id>" | "<iss>:<id>": mode}`` (for logs)."""
        modes = {f"site:{rec}": mode.value for rec, mode in self.site.items() if mode is not Mode.ACTIVE}
        for iss, overrides in self.clients.items():
            modes.update({f"{iss}:{rec}": mode.value for rec, mode in overrides.items()})
        return modes

    def as_json(self) -> dict[str, Any]:
        """Canonical form (sorted keys, every recommendation listed for the site): what is hashed and stored."""
        return {
            "site": {rec: self.site.get(rec, Mode.ACTIVE).value for rec in sorted(_RECOMMENDATION_IDS)},
            "clients": {
                iss: {rec: mode.value for rec, mode in sorted(modes.items())}
                for iss, modes in sorted(self.clients.items())
            },
        }

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical form: two files meaning the same modes have the same digest."""
        return hashlib.sha256(orjson.dumps(self.as_json(), option=orjson.OPT_SORT_KEYS)).hexdigest()


def load_governance(path: Path | None) -> Governance:
    """The governance in ``path`` (YAML or JSON), or all-active when ``path`` is None.

    :raises ConfigError: the file is missing, unreadable or invalid; the message names the file and the field.
    """
    if path is None:
        return Governance()
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise ConfigError(f"CGH_GOVERNANCE_FILE {path}: cannot be read ({exc.strerror}).") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"CGH_GOVERNANCE_FILE {path}: not valid YAML or JSON ({exc}).") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"CGH_GOVERNANCE_FILE {path}: the top level must be a mapping with 'recommendations' "
                          "and optionally 'clients'.")
    try:
        loaded = _GovernanceSchema().load(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{where}: {what}" for where, what in flatten_messages(exc.messages))
        raise ConfigError(f"CGH_GOVERNANCE_FILE {path}: {problems}") from None
    return Governance(
        site={rec: Mode(mode) for rec, mode in loaded["recommendations"].items()},
        clients={
            iss: {rec: Mode(mode) for rec, mode in client["recommendations"].items()}
            for iss, client in loaded["clients"].items()
        },
        source=str(path),
    )
