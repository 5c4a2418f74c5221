"""Hardening headers on every response: no sniffing, no framing, no referrer, a strict CSP, no caching of CDS
answers (they carry patient-specific advice).

Swagger UI (``/docs/``): its CSP allows our own scripts plus the page's inline bootstrap script by SHA-256
hash, computed from the page as served, so a change of Swagger config cannot silently break it and no
``'unsafe-inline'`` script is ever allowed. The governance page (``/analytics/``) has no inline script at all.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from flask import Response

__all__ = ["API_CSP", "SecurityHeaders"]

#: JSON endpoints render nothing: no source of any kind, no framing, no forms.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_PREFIX = "/docs"
#: The governance pages (``/analytics/``, the card gallery ``/preview/``): our own script and stylesheet only;
#: they read their JSON from their origin.
PAGES_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_PAGE_PREFIXES = ("/analytics/", "/preview/")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)
#: Paths whose answers may be cached (static docs assets, the OpenAPI file).
_CACHEABLE_PREFIXES = ("/docs/", "/openapi.yaml")


class SecurityHeaders:
    """Adds the hardening headers; built once from the public base URL."""

    def __init__(self, public_base_url: str) -> None:
        parts = urlsplit(public_base_url)
        self.public_origin = f"{parts.scheme}://{parts.netloc}"
        self.hsts = parts.scheme == "https"

    def apply(self, response: Response, path: str) -> None:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if self.hsts:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/"):
            headers["Content-Security-Policy"] = self._docs_csp(response)
        elif path.startswith(_PAGE_PREFIXES) and response.mimetype in {"text/html", "text/css", "text/javascript"}:
            headers["Content-Security-Policy"] = PAGES_CSP
        else:
            headers["Content-Security-Policy"] = API_CSP
        if not path.startswith(_CACHEABLE_PREFIXES):
            headers["Cache-Control"] = "no-store"

    def _docs_csp(self, response: Response) -> str:
        script_src = "'self'"
        if response.mimetype == "text/html" and not response.direct_passthrough:
            hashes = sorted(
                {
                    "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
                    for body in _INLINE_SCRIPT.findall(response.get_data())
                }
            )
            script_src = " ".join(["'self'", *hashes])
        return (
            "default-src 'self'; "
            f"script-src {script_src}; "
            # Swagger UI (React) sets style attributes; styles cannot run code.
            "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; "
            "font-src 'self' data:; "
            f"connect-src 'self' {self.public_origin}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
        )
