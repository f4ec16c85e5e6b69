from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from openmemory.errors import ApplicationError
from openmemory.services import token_lookup, user_get_or_create

KEYWORDS = ("token", "bearer")
LOOPBACK = {"127.0.0.1", "::1"}


def key_from_header(header: str) -> str | None:
    """The key in `Token <key>` or `Bearer <key>`, else None."""
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() in KEYWORDS:
        return parts[1]
    return None


def _token_user(key: str):
    token = token_lookup(key)
    if token is None:
        raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
    return token.user, token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` or `Authorization: Bearer <key>`; `request.auth` is the ApiToken."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        key = key_from_header(header)
        if key is None:
            raise exceptions.AuthenticationFailed("Send the API token as 'Authorization: Token <key>' or 'Bearer <key>'.")
        return _token_user(key)

    def authenticate_header(self, request):
        return 'Token realm="api"'


class ApiKeyHeaderAuthentication(authentication.BaseAuthentication):
    """`X-API-Key: <key>`, as mem0's self-hosted server takes its key (for the clients written for it)."""

    def authenticate(self, request):
        key = request.META.get("HTTP_X_API_KEY")
        return _token_user(key) if key else None

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


def local_user_for(user_id: str | None):
    """OPENMEMORY_LOCAL_NO_AUTH: the user a tokenless loopback request acts as: the one it names, else the
    local user (OPENMEMORY_USER, the user `make run` made). None when neither is known."""
    name = user_id or settings.OPENMEMORY_USER
    return user_get_or_create(username=name) if name else None


class LocalNoAuthentication(authentication.BaseAuthentication):
    """OPENMEMORY_LOCAL_NO_AUTH: a request from this machine with no token acts as the user_id it names, or as
    the local user when it names none (OpenMemory's UI leaves user_id out of many calls).

    For OpenMemory clients that send no credentials; off by default, and never for another address.
    """

    def authenticate(self, request):
        if not settings.OPENMEMORY_LOCAL_NO_AUTH:
            return None
        if authentication.get_authorization_header(request) or request.META.get("REMOTE_ADDR") not in LOOPBACK:
            return None
        try:
            try:
                user_id = requested_user_id(request)
            except exceptions.ParseError:  # the view says so; this request names nobody
                user_id = None
            user = local_user_for(user_id if isinstance(user_id, str) else None)
        except ApplicationError as exc:
            raise exceptions.AuthenticationFailed(exc.message) from exc
        return (user, None) if user else None


def requested_user_id(request):
    """The `user_id` a request names: in its query string, else in its body (JSON or form); None when it names none.
    A body that cannot be parsed raises DRF's ParseError (400), as reading it in the view would."""
    if "user_id" in request.query_params:
        return request.query_params["user_id"]
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    data = request.data
    return data.get("user_id") if hasattr(data, "get") else None


class LocalNoAuthScheme(OpenApiAuthenticationExtension):
    target_class = LocalNoAuthentication
    name = "localNoAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": "user_id",
            "description": "Only with OPENMEMORY_LOCAL_NO_AUTH=true and from 127.0.0.1: no token; the user_id names "
                           "the user (the local user, OPENMEMORY_USER, when it is left out).",
        }
