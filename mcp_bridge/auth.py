"""Binding an MCP request to one user and one app, from its path and its token."""
import dataclasses
from urllib.parse import parse_qs

from django.conf import settings

from apps_registry.services import app_get_or_create
from mcp_bridge.identity import Identity, in_django
from openmemory.authentication import LOOPBACK, key_from_header, local_user_for
from openmemory.errors import NotAuthenticated
from openmemory.oauth import access_token, resource_metadata_url, token_binding_problem
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


def base_url(scope) -> str:
    """This server's origin as the client sees it (the scheme a TLS proxy reports, as Django reads it)."""
    headers = dict(scope.get("headers") or [])
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme"), scope.get("scheme") or "http")
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy and headers.get(proxy[0].removeprefix("HTTP_").lower().replace("_", "-").encode()) == proxy[1].encode():
        scheme = "https"
    return f"{scheme}://{headers.get(b'host', b'').decode('latin-1')}"


def challenge(scope) -> str:
    """Where an OAuth client learns how to get a token for this MCP URL (RFC 9728), for the 401's challenge."""
    return resource_metadata_url(base_url(scope), scope["path"].rstrip("/"))


def _identity(key: str | None, user_id: str, client: str, address: str | None, url: str) -> Identity:
    if key:
        token = token_lookup(key)
        if token is None:
            # An OAuth access token (a client that signed in): it acts for its user (403 on another user's path,
            # as a static token), at the MCP URL it was issued for (RFC 8707: 401 elsewhere).
            if (oauth := access_token(key)) is None:
                raise NotAuthenticated("Invalid, expired or revoked token: sign in again, or send a valid API token.")
            user = user_acted_for(caller=oauth.user, token=None, user_id=user_id)
            if problem := token_binding_problem(oauth, url):
                raise NotAuthenticated(problem)
            return Identity(user=user, app=app_get_or_create(owner=user, name=client))
        user = user_acted_for(caller=token.user, token=token, user_id=user_id)
    elif settings.OPENMEMORY_LOCAL_NO_AUTH and address in LOOPBACK:
        user = local_user_for(user_id)
    else:
        raise NotAuthenticated("Send the user's API token: 'Authorization: Bearer <key>' or '?token=<key>'.")
    return Identity(user=user, app=app_get_or_create(owner=user, name=client))


async def identity_for(scope) -> Identity:
    kwargs = scope["url_route"]["kwargs"]
    address = (scope.get("client") or [None])[0]
    identity = await in_django(_identity, token_from_scope(scope), kwargs["user_id"], kwargs["client"], address,
                               base_url(scope) + scope["path"])
    return dataclasses.replace(identity, transport=scope["path"].split("/")[3],  # /mcp/<client>/<transport>/<user>
                               base_url=base_url(scope))
