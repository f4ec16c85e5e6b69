"""Binding an MCP request to one user and one app, from its path and its token."""
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from apps_registry.services import app_get_or_create
from mcp_bridge.identity import Identity, executor
from openmemory.authentication import LOOPBACK, key_from_header, local_user_for
from openmemory.errors import NotAuthenticated
from openmemory.services import token_lookup, user_acted_for


def token_in_query(scope) -> str | None:
    tokens = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return tokens[0] if tokens else None


def token_from_scope(scope) -> str | None:
    """`Authorization: Bearer|Token <key>`, or `?token=<key>` for clients that cannot set headers."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return key_from_header(value.decode("latin-1"))
    return token_in_query(scope)


def _identity(key: str | None, user_id: str, client: str, address: str | None) -> Identity:
    if key:
        token = token_lookup(key)
        if token is None:
            raise NotAuthenticated("Invalid or revoked API token.")
        user = user_acted_for(caller=token.user, token=token, user_id=user_id)
    elif settings.OPENMEMORY_LOCAL_NO_AUTH and address in LOOPBACK:
        user = local_user_for(user_id)
    else:
        raise NotAuthenticated("Send the user's API token: 'Authorization: Bearer <key>' or '?token=<key>'.")
    return Identity(user=user, app=app_get_or_create(owner=user, name=client))


async def identity_for(scope) -> Identity:
    kwargs = scope["url_route"]["kwargs"]
    address = (scope.get("client") or [None])[0]
    return await sync_to_async(_checked_identity, thread_sensitive=False, executor=executor)(
        token_from_scope(scope), kwargs["user_id"], kwargs["client"], address)


def _checked_identity(*args) -> Identity:
    close_old_connections()  # not an HTTP request Django sees: recycle a stale connection here
    return _identity(*args)
