"""CORS for browser CDS clients (the CDS Hooks Sandbox): preflight answers and response headers.

Browsers send the preflight ``OPTIONS`` without ``Authorization``, so preflights are answered before any JWT
check (CDS Hooks pitfall: auth middleware that blocks preflight makes the service unusable from the Sandbox).
``Access-Control-Allow-Origin`` goes on every CDS response, errors included, so a browser client can read a
401/404/412. Origins come from ``CGH_CORS_ORIGINS``: exact origins, or ``*``. Credentials (cookies) are never
allowed; CDS clients authenticate with a bearer header.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response

__all__ = ["ALLOWED_HEADERS", "ALLOWED_METHODS", "CorsPolicy"]

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Accept"
EXPOSED_HEADERS = "X-Request-ID"
PREFLIGHT_MAX_AGE_S = 600


class CorsPolicy:
    """Which browser origins may call the CDS endpoints."""

    def __init__(self, origins: Iterable[str]) -> None:
        normalised = {origin.rstrip("/").lower() for origin in origins}
        self.any_origin = "*" in normalised
        self.origins = frozenset(normalised - {"*"})

    @property
    def enabled(self) -> bool:
        return self.any_origin or bool(self.origins)

    def allow_origin(self, origin: str | None) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for a request from ``origin``, or None (not allowed)."""
        if not origin:
            return None
        if self.any_origin:
            return "*"
        return origin if origin.lower() in self.origins else None

    def apply(self, response: Response, origin: str | None) -> None:
        """Add the CORS response headers for a request from ``origin`` (no-op for other origins)."""
        if self.origins:
            # The answer depends on Origin: shared caches must not serve one origin's answer to another.
            response.vary.add("Origin")
        allowed = self.allow_origin(origin)
        if allowed is None:
            return
        response.headers["Access-Control-Allow-Origin"] = allowed
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS

    def preflight(self, origin: str | None, methods: Iterable[str]) -> Response:
        """The answer to an ``OPTIONS`` request on a CDS endpoint: 204, no JWT needed.

        :param methods: what the path itself accepts (its routes' methods), listed in ``Allow`` with OPTIONS.
        """
        response = Response(status=204)
        response.headers["Allow"] = ", ".join([*sorted(set(methods) - {"HEAD", "OPTIONS"}), "OPTIONS"])
        if self.allow_origin(origin) is not None:
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
        return response
