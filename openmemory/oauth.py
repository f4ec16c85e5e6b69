"""OAuth 2.1 for MCP clients (the MCP authorization spec), on django-oauth-toolkit: what is ours is the policy
on what a client may register, and how an MCP request's bearer token becomes a user."""
import hashlib
import ipaddress
import json
import ssl
from urllib.parse import urlencode, urlsplit

import urllib3

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.urls import reverse
from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher, is_cimd_client_id
from oauth2_provider.cimd import _build_application_kwargs as cimd_application_kwargs
from oauth2_provider.cimd import _validate_client_id_url as cimd_validate_url
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.models import get_access_token_model
from oauth2_provider.views import (AuthorizationView, DynamicClientRegistrationManagementView,
                                   DynamicClientRegistrationView)

from openmemory.throttling import FailOpenThrottle

LOOPBACK_HOSTS = {"localhost"}
MCP_SCOPE = "memories"


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_problem(uri) -> str | None:
    """Why a client may not register this redirect URI: https anywhere, http only back to this machine (what CLI
    and desktop clients listen on, RFC 8252); None when it is fine."""
    if not isinstance(uri, str):
        return "Each redirect_uri must be a string."
    parts = urlsplit(uri)
    if parts.fragment:
        return f"The redirect_uri {uri!r} has a fragment, which OAuth forbids."
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and _loopback(parts.hostname):
        return None
    return (f"The redirect_uri {uri!r} is not allowed: use https, or http to a loopback address (127.0.0.1, [::1] "
            "or localhost).")


# What a registration may hold (RFC 7591 sets no limits; these are far above what any MCP client sends).
MAX_REGISTRATION_BYTES = 16 * 1024
MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2000
MAX_NAME_LENGTH = 200
MAX_LIST_ITEMS = 10


def registration_problem(body: bytes) -> tuple[str, str] | None:
    """(RFC 7591's error code, a sentence) for why this client metadata document may not be registered (or replace a
    registration); None when it may."""
    metadata_error = "invalid_client_metadata"
    if len(body) > MAX_REGISTRATION_BYTES:
        return metadata_error, f"The registration is larger than {MAX_REGISTRATION_BYTES // 1024} KB."
    try:
        metadata = json.loads(body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        return metadata_error, "The registration is not valid JSON."
    if not isinstance(metadata, dict):
        return metadata_error, "The registration must be a JSON object."
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        return "invalid_redirect_uri", "redirect_uris must be a non-empty list."
    if len(uris) > MAX_REDIRECT_URIS:
        return "invalid_redirect_uri", f"A client may register at most {MAX_REDIRECT_URIS} redirect_uris."
    for name, value in metadata.items():
        limit = MAX_NAME_LENGTH if name == "client_name" else MAX_URI_LENGTH
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > MAX_LIST_ITEMS:
            return metadata_error, f"{name} may hold at most {MAX_LIST_ITEMS} items."
        if any(isinstance(item, (dict, list)) for item in items):
            return metadata_error, f"{name} must be a string, a number, a boolean or a list of those."
        if any(isinstance(item, str) and len(item) > limit for item in items):
            return metadata_error, f"{name} is longer than {limit} characters."
        if any(isinstance(item, str) and "\x00" in item for item in items):
            return metadata_error, f"{name} contains a NUL character."
    for uri in uris:
        if problem := redirect_uri_problem(uri):
            return "invalid_redirect_uri", problem
    return None


def _refused(description: str, *, error: str = "invalid_client_metadata", status: int = 400, headers=None):
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _registration_refusal(body: bytes):
    if problem := registration_problem(body):
        error, sentence = problem
        return _refused(sentence, error=error)
    return None


class RegistrationThrottle(FailOpenThrottle):
    """Registrations per client address (OAUTH_REGISTRATION_RATE); with the cache away, unmetered."""
    scope = "oauth-registration"

    def get_rate(self):
        return settings.OAUTH_REGISTRATION_RATE

    def get_cache_key(self, request, view):
        # The connection's address: DRF's get_ident would believe any X-Forwarded-For a client sends (behind a
        # proxy, uvicorn's --proxy-headers puts the client's address here).
        return self.cache_format % {"scope": self.scope, "ident": request.META.get("REMOTE_ADDR", "")}


def _throttled(request):
    throttle = RegistrationThrottle()
    if throttle.allow_request(request, None):
        return None
    wait = max(1, int(throttle.wait() or 1))
    return _refused(f"Too many registrations from this address: try again in {wait} s.", error="slow_down",
                    status=429, headers={"Retry-After": str(wait)})


class ClientRegistration(DynamicClientRegistrationView):
    """RFC 7591 registration open to any client (MCP clients register themselves), bounded: what a registration may
    hold (registration_problem, with our redirect rule) and how many one address may make (RegistrationThrottle)."""

    def post(self, request, *args, **kwargs):
        if refusal := _registration_refusal(request.body) or _throttled(request):
            return refusal
        return super().post(request, *args, **kwargs)


class ClientConfiguration(DynamicClientRegistrationManagementView):
    """RFC 7592's update of a registered client, under registration's rules."""

    def put(self, request, *args, **kwargs):
        if refusal := _registration_refusal(request.body):
            return refusal
        return super().put(request, *args, **kwargs)


class MetadataFetcher(SafeMetadataFetcher):
    """Client ID Metadata Documents (CIMD) fetched with django-oauth-toolkit's SSRF-hardened fetcher (https only,
    public addresses only, no redirects, size and time limits, caching by HTTP headers, failure back-off), and
    checked at once for what the toolkit checks after it (client_id equal to the URL, a public client with redirect
    URIs), so that why a document was refused is known: the sign-in page tells the person.

    Hosts in OAUTH_CIMD_PRIVATE_HOSTS may resolve to private addresses (clients on an intranet; the tests' own https
    server); every other host must be public."""

    def fetch(self, client_id):
        try:
            if urlsplit(client_id).hostname in settings.OAUTH_CIMD_PRIVATE_HOSTS:
                metadata, max_age = self._fetch_private(client_id)
            else:
                metadata, max_age = super().fetch(client_id)
            if metadata.get("client_id") != client_id:
                raise CIMDError(f"its client_id is {str(metadata.get('client_id'))[:200]!r}, not the URL it was "
                                "fetched from")
            cimd_application_kwargs(metadata)
            if problem := next(filter(None, map(redirect_uri_problem, metadata["redirect_uris"])), None):
                raise CIMDError(problem)
        except CIMDError as exc:
            cache.set(_refusal_key(client_id), str(exc), oauth2_settings.CIMD_FAILURE_BACKOFF_SECONDS)
            raise
        return metadata, max_age

    def _fetch_private(self, client_id):
        """The toolkit's fetch but for the public-address rule (its other checks: its own code, reused)."""
        parsed = cimd_validate_url(client_id)
        timeout = oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS
        pool = urllib3.HTTPSConnectionPool(parsed.hostname, port=parsed.port or 443, retries=False, maxsize=1,
                                           timeout=urllib3.Timeout(connect=timeout, read=timeout, total=timeout),
                                           ssl_context=ssl.create_default_context())
        try:
            response = pool.urlopen("GET", parsed.path + (f"?{parsed.query}" if parsed.query else ""),
                                    headers={"Accept": "application/json"}, redirect=False, preload_content=False)
            try:
                return self._read_document(response)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            raise CIMDError(f"could not fetch client_id document: {exc}") from exc
        finally:
            pool.close()


def _refusal_key(client_id: str) -> str:
    return "openmemory:cimd-refused:" + hashlib.sha256(client_id.encode()).hexdigest()


def cimd_refusal(client_id: str) -> str | None:
    """Why the document at this client_id URL was refused lately (for the back-off's length); None if it wasn't."""
    return cache.get(_refusal_key(client_id)) if is_cimd_client_id(client_id) else None


class ConsentView(AuthorizationView):
    """The consent page says what a person approves: the client's name and whether that name is checked (its
    client_id an https URL whose document we fetched: CIMD) or only what it declared when it registered, the host
    its redirect goes to, and whose memories it will reach; when the user signed in is not the one the MCP URL
    names, it says so before Allow and offers to switch accounts."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        client_id = kwargs.get("client_id") or ""
        redirect = urlsplit(kwargs.get("redirect_uri") or "")
        resource = (self.request.GET.get("resource") or "").split()
        mcp_user = _mcp_user(resource[0]) if resource else None
        signed_in = self.request.user.get_username()
        context.update(
            client_verified=is_cimd_client_id(client_id), client_url=client_id if is_cimd_client_id(client_id) else "",
            redirect_host=redirect.hostname or "", redirect_loopback=_loopback(redirect.hostname),
            mcp_user=mcp_user, mcp_url=resource[0] if resource else "",
            other_user=mcp_user is not None and mcp_user != signed_in,
            switch_to=f"{reverse('login')}?{urlencode({'next': self.request.get_full_path()})}")
        return context


    def render_to_response(self, context, **kwargs):
        # A refused request: where the client is identified by a document we could not use, say why.
        client_id = self.request.GET.get("client_id") or ""
        if (error := context.get("error")) is not None and (why := cimd_refusal(client_id)):
            context = {**context, "error": {"error": getattr(error, "error", "invalid_request"), "description": (
                f"This client identifies itself by {client_id}, and the description found there cannot be used: "
                f"{why}.")}}
        return super().render_to_response(context, **kwargs)


def _mcp_user(url: str) -> str | None:
    """The user an MCP URL (.../mcp/<client>/<transport>/<user>) names; None for any other URL."""
    parts = urlsplit(url).path.strip("/").split("/")
    return parts[-1] if len(parts) >= 4 and parts[-4] == "mcp" else None


def access_token(key: str):
    """The OAuth access token with this value, if it is unexpired, unrevoked and for the memories scope."""
    token = (get_access_token_model().objects.select_related("user", "application")
             .filter(token_checksum=hashlib.sha256(key.encode()).hexdigest()).first())
    return token if token is not None and token.is_valid([MCP_SCOPE]) else None


def _normal(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def token_binding_problem(token, url: str) -> str | None:
    """Why this OAuth access token does not work at this MCP URL; None when it does. A token works at the MCP URL
    it was issued for (RFC 8707's `resource`, which every client we test sends) and nowhere else: not at another
    app's or transport's URL, and not when it names no resource, or the server's root, which would make it a key
    to every MCP URL of its user."""
    if not token.resource:
        return ("This token was issued without a resource: sign in again from this MCP URL (the client must send "
                "resource=<the MCP URL>, RFC 8707).")
    if _normal(url) not in {_normal(resource) for resource in token.resource if isinstance(resource, str)}:
        return "This token was issued for another resource: sign in for this URL."
    return None


def resource_metadata_url(base_url: str, path: str) -> str:
    """Where an MCP URL's protected-resource metadata is (RFC 9728: the well-known name before the path)."""
    return f"{base_url}/.well-known/oauth-protected-resource{path}"
