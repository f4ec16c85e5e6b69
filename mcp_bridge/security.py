"""One Host/Origin policy for every MCP transport (DNS rebinding: a web page must not drive a local server).

Django's ALLOWED_HOSTS does not cover the raw ASGI routes, so the same rule is applied here: the Host header
must name an allowed host, and an Origin, when a browser sends one, must be an allowed host or a listed
CORS origin. Clients outside a browser send no Origin and pass.
"""
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from openmemory.errors import AccessDenied, MisdirectedRequest


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def check_host_and_origin(scope) -> None:
    """Raise MisdirectedRequest (421) for a Host, AccessDenied (403) for an Origin this server does not serve."""
    host = _header(scope, b"host") or ""
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        raise MisdirectedRequest(f"The Host header {host!r} is not one this server answers to: add the host name "
                                 "to ALLOWED_HOSTS.")
    origin = _header(scope, b"origin")
    if origin is None or origin in settings.CORS_ALLOWED_ORIGINS:
        return
    origin_host = urlsplit(origin).hostname or ""
    if not validate_host(origin_host, settings.ALLOWED_HOSTS):
        raise AccessDenied(f"Requests from the web origin {origin!r} are refused: list it in CORS_ALLOWED_ORIGINS "
                           "to let that page use this server.")
