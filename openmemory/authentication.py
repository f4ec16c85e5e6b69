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
