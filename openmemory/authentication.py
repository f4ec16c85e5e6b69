from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from openmemory.services import token_user

KEYWORDS = ("token", "bearer")


def key_from_header(header: str) -> str | None:
    """The key in `Token <key>` or `Bearer <key>`, else None."""
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() in KEYWORDS:
        return parts[1]
    return None


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` or `Authorization: Bearer <key>`."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        key = key_from_header(header)
        if key is None:
            raise exceptions.AuthenticationFailed("Send the API token as 'Authorization: Token <key>' or 'Bearer <key>'.")
        user = token_user(key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return user, key

    def authenticate_header(self, request):
        return 'Token realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` or `Bearer <key>`; `python manage.py create_token <user>` makes one.",
        }


LOOPBACK = {"127.0.0.1", "::1"}


class LocalNoAuthentication(authentication.BaseAuthentication):
    """OPENMEMORY_LOCAL_NO_AUTH: a request from this machine with no token acts as the user_id it names.

    For OpenMemory clients that send no credentials; off by default, and never for another address.
    """

    def authenticate(self, request):
        from django.conf import settings

        if not settings.OPENMEMORY_LOCAL_NO_AUTH:
            return None
        if authentication.get_authorization_header(request) or request.META.get("REMOTE_ADDR") not in LOOPBACK:
            return None
        user_id = request.query_params.get("user_id") or _body_user_id(request)
        if not user_id:
            return None
        from openmemory.services import user_get_or_create

        return user_get_or_create(username=str(user_id)[:150]), None


def _body_user_id(request):
    try:
        data = request.data
    except exceptions.ParseError:
        return None
    return data.get("user_id") if hasattr(data, "get") else None


class LocalNoAuthScheme(OpenApiAuthenticationExtension):
    target_class = LocalNoAuthentication
    name = "localNoAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": "user_id",
            "description": "Only with OPENMEMORY_LOCAL_NO_AUTH=true and from 127.0.0.1: no token, the user_id names the user.",
        }
