"""``CGH_SANDBOX``: the sandbox endpoint is off unless switched on; a bad value stops start-up naming it."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.errors import ConfigError


def test_the_sandbox_is_off_by_default() -> None:
    assert Settings.from_env({"CGH_AUTH": "off"}).sandbox is False


@pytest.mark.parametrize(("value", "expected"), [("on", True), ("true", True), ("off", False), ("0", False)])
def test_the_sandbox_switch_is_read(value: str, expected: bool) -> None:
    assert Settings.from_env({"CGH_AUTH": "off", "CGH_SANDBOX": value}).sandbox is expected


def test_a_bad_sandbox_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="CGH_SANDBOX"):
        Settings.from_env({"CGH_AUTH": "off", "CGH_SANDBOX": "maybe"})
