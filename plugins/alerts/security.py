"""The HTTP security policy, in one place: page <meta> tags and the _headers file use it."""

from __future__ import annotations

# No script at all, styles only from our own stylesheet, nothing embedded from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)
# frame-ancestors is ignored in a <meta> policy, so only the header carries it.
HEADER_CSP = CONTENT_SECURITY_POLICY + "; frame-ancestors 'none'"
REFERRER_POLICY = "strict-origin-when-cross-origin"


def headers_file() -> str:
    """A `_headers` file (Netlify, Cloudflare Pages and others read this format)."""
    return (
        "/*\n"
        f"  Content-Security-Policy: {HEADER_CSP}\n"
        f"  Referrer-Policy: {REFERRER_POLICY}\n"
        "  X-Content-Type-Options: nosniff\n"
        "  X-Frame-Options: DENY\n"
        "/feeds/*\n"
        "  Access-Control-Allow-Origin: *\n"
        "/audit/*.json\n"
        "  Access-Control-Allow-Origin: *\n"
    )
