"""The admin token check shared by the operator tools: ``/analytics``, ``/preview`` and ``/sandbox``."""

from __future__ import annotations

import hmac

from flask import request

from service.config import AuthMode
from service.errors import UnauthorizedError
from service.invocation import Runtime


def require_admin(runtime: Runtime, tool: str) -> None:
    """Refuse (401) unless auth is off or the request carries ``Bearer <CGH_ADMIN_TOKEN>``.

    ``tool`` names what was asked for in the (logged, never answered) reason. The comparison takes constant
    time, and no token configured means every request is refused.
    """
    if runtime.settings.auth is AuthMode.OFF:
        return
    expected = runtime.settings.admin_token
    given = request.headers.get("Authorization", "")
    if not expected or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise UnauthorizedError(f"{tool} needs the admin token (CGH_ADMIN_TOKEN)")
