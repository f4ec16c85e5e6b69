"""The MCP server over streamable HTTP and SSE: plain ASGI apps mounted in Channels' router.

Streamable HTTP is stateless: any process behind a load balancer answers any request, so several server
processes need nothing shared but the database. SSE keeps a session in the process that opened the stream
(its POSTs must reach that process: sticky routing). Every request is authenticated and bound to the user
and app its path names; the SSE transport is per (user, app), so a session id shown on another path is unknown.

Every answer a client can get here is JSON: ours, or the SDK's plain-text refusals rewritten into our shape.
"""
import asyncio
import contextlib
import contextvars
import json
import logging
import math
import time
import uuid
from urllib.parse import parse_qs, quote

import mcp_types as types
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import InterfaceError, OperationalError
from mcp.shared.message import SessionMessage
from redis.exceptions import RedisError

from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS, MCP_PROTOCOL_VERSION_HEADER, classify_inbound_request
from mcp_types import PROTOCOL_VERSION_META_KEY

from mcp_bridge.auth import challenge, identity_for, token_in_query
from mcp_bridge.identity import current, in_django
from mcp_bridge.relay import channel as relay_channel, refusal_channel, relay
from mcp_bridge.security import check_host_and_origin
from mcp_bridge.server import server
from openmemory import metrics
from openmemory.errors import ApplicationError, DatabaseUnavailable, database_unavailable
from openmemory.throttling import throttled_sentence, user_call_wait

logger = logging.getLogger("openmemory.mcp")

# Our own checks (mcp_bridge.security) run first; the SDK's copy of them is off so that one policy decides.
_SDK_SECURITY = TransportSecuritySettings(enable_dns_rebinding_protection=False)

# What the SDK's plain-text refusals mean, in a sentence a user can act on.
_SDK_REFUSALS = {
    "Invalid Content-Type header": ("invalid", "Send MCP messages as JSON (Content-Type: application/json)."),
    "Request body too large": ("too_large", "The message is larger than the 4 MB an MCP message may be."),
    "Could not find session": ("not_found", "No MCP session with that id is open here: open a new one (a session "
                                            "ends with its stream, or when the server restarts)."),
    "session_id is required": ("invalid", "The message URL has no session_id: post to the URL the stream announced."),
    "Invalid session ID": ("invalid", "The session_id is malformed: post to the URL the stream announced."),
    "Could not parse message": ("invalid", "The body is not a JSON-RPC message."),
}


async def send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": data})


async def _send_error(send, error: ApplicationError, scope=None) -> None:
    headers = []
    if error.status_code == 401:
        # RFC 6750's challenge, naming where OAuth clients find how to sign in (RFC 9728, the MCP authorization
        # spec). The sentence travels in the body too: clients show one or the other.
        metadata = f'resource_metadata="{challenge(scope)}", ' if scope else ""
        headers.append((b"www-authenticate", f'Bearer realm="openmemory", {metadata}error="invalid_token", '
                                             f'error_description="{error.message}"'.encode()))
    await send_json(send, error.status_code, {"detail": error.message, "code": error.code}, headers)


def _json_errors(send):
    """The SDK answers some refusals in plain text (400, 404, 413, ...): give them our JSON shape instead."""
    held = {}

    async def wrapped(message):
        if message["type"] == "http.response.start" and message["status"] >= 400:
            content_type = dict(message.get("headers", [])).get(b"content-type", b"")
            if not content_type.startswith(b"application/json"):
                held.update(status=message["status"], headers=message.get("headers", []))
                return
        if message["type"] == "http.response.body" and held:
            text = message.get("body", b"").decode("utf-8", "replace").strip()
            code, sentence = _SDK_REFUSALS.get(text, ("invalid", text or "The request was refused."))
            allow = [(k, v) for k, v in held["headers"] if k == b"allow"]
            status = held.pop("status")
            held.clear()
            return await send_json(send, status, {"detail": sentence, "code": code}, allow)
        await send(message)

    return wrapped


def _logged(app, route: str):
    """One line per request (the path only: a query string may hold ?token=), and its figures for /metrics."""

    async def wrapper(scope, receive, send):
        started, status = time.perf_counter(), {}

        async def capture(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - started
            logger.info("%s %s %s %.1fms", scope["method"], scope["path"], status.get("code", "-"), elapsed * 1000)
            metrics.request_done(route=route, method=scope["method"], status=status.get("code", "-"), seconds=elapsed)

    return wrapper


def _bound(handler, *, route: str, methods: tuple[str, ...], refusal: str):
    """Check method, Host/Origin and token, then run the handler with the request's identity in context."""

    async def app(scope, receive, send):
        if scope["method"] not in methods:
            allow = ", ".join(methods).encode()
            return await send_json(send, 405, {"detail": refusal, "code": "method_not_allowed"}, [(b"allow", allow)])
        try:
            check_host_and_origin(scope)
            identity = await identity_for(scope)
        except (OperationalError, InterfaceError) as exc:
            return await _answer_unavailable(scope, receive, send, database_unavailable(exc))
        except ApplicationError as error:
            return await _send_error(send, error, scope)
        token = current.set(identity)
        try:
            await handler(identity, scope, receive, _json_errors(send))
        finally:
            current.reset(token)

    return _logged(app, route)


async def _answer_unavailable(scope, receive, send, error: DatabaseUnavailable) -> None:
    """503 with Retry-After, as a JSON-RPC error for the request it refuses; on SSE the error also goes down the
    session's stream, where the client waits for its answer (a refused POST must not leave it waiting)."""
    request_id = await _request_id(receive) if scope["method"] == "POST" else None
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32000, "message": error.message,
                                                           "data": {"code": error.code}}}
    if request_id is not None:
        await sse.answer(_session_id(scope), request_id, error)
    await send_json(send, 503, body, [(b"retry-after", str(error.retry_after).encode())])


async def _request_id(receive):
    """The id of the JSON-RPC request in the body (None for a notification or a body that is not one)."""
    try:
        request = json.loads(await _body(receive, 2**20) or b"")
    except ValueError:
        return None
    return request.get("id") if isinstance(request, dict) else None


class _StreamableHttp:
    """The SDK's session manager, started on first use (daphne sends no lifespan; uvicorn would)."""

    def __init__(self):
        self.manager, self._ready, self._task = None, None, None

    async def _run(self):
        async with self.manager.run():
            self._ready.set()
            await asyncio.Event().wait()

    async def handle(self, identity, scope, receive, send):
        body = await _body(receive, _MAX_MESSAGE)
        if body is None:
            code, sentence = _SDK_REFUSALS["Request body too large"]
            return await send_json(send, 413, {"detail": sentence, "code": code})
        message = _message(body)
        # The SDK tells the 2026-07-28 revision from the earlier ones by the MCP-Protocol-Version header alone: a
        # modern request without it would reach the handshake-era server, which knows no server/discover.
        if _PROTOCOL_HEADER not in dict(scope["headers"]) and (refusal := _modern_without_header(message, scope)):
            return await send_json(send, *refusal)
        # A tool call counts against the user's rate, as a REST request does: over it, 429 with Retry-After.
        if message.get("method") == "tools/call" and (wait := await _call_wait(identity.user)):
            error = {"jsonrpc": "2.0", "id": message.get("id"), "error": {"code": -32000, "message": throttled_sentence(
                wait), "data": {"code": "throttled"}}}
            return await send_json(send, 429, error, [(b"retry-after", str(math.ceil(wait)).encode())])
        await self._serve(scope, _replay(body, receive), send)

    async def _serve(self, scope, receive, send):
        if self._task is None or self._task.done():
            self.manager = StreamableHTTPSessionManager(app=server._lowlevel_server, stateless=True,
                                                        json_response=True, security_settings=_SDK_SECURITY)
            self._ready = asyncio.Event()
            # An empty context: the manager's tasks must not inherit the first request's identity.
            self._task = asyncio.create_task(self._run(), context=contextvars.Context())
        await self._ready.wait()
        await self.manager.handle_request(scope, receive, send)


_PROTOCOL_HEADER = MCP_PROTOCOL_VERSION_HEADER.encode()


async def _call_wait(user) -> float | None:
    """openmemory.throttling.user_call_wait, here in the event loop where the counts are in this process's memory
    (the embedded default: some 25 µs, where a hop to a thread cost a search over HTTP 1.6 ms); on a thread where
    they are in Redis (network I/O must not block the loop)."""
    if isinstance(caches["default"], LocMemCache):
        return user_call_wait(user)
    return await in_django(user_call_wait, user)


def _message(body: bytes) -> dict:
    """The JSON-RPC request or notification in the body; {} for anything else (the SDK answers that)."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return message if isinstance(message, dict) and isinstance(message.get("method"), str) else {}


def _modern_without_header(message: dict, scope) -> tuple[int, dict] | None:
    """A request of the 2026-07-28 revision (its params carry the protocol version, or it is server/discover) sent
    without the MCP-Protocol-Version header that revision requires: the refusal the SDK's checks give it, with a
    sentence that says what to send. None for anything else (the earlier revisions' messages)."""
    if not message or "id" not in message:
        return None
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if message["method"] != "server/discover" and not (isinstance(meta, dict) and PROTOCOL_VERSION_META_KEY in meta):
        return None
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
    rejection = classify_inbound_request(message, headers=headers)  # the header is missing: always a rejection
    code = getattr(rejection, "code", types.HEADER_MISMATCH)
    what = "The MCP-Protocol-Version header is missing" if code == types.HEADER_MISMATCH else rejection.message
    sentence = (f"{what}. This is a request of MCP revision 2026-07-28: send the MCP-Protocol-Version and Mcp-Method "
                "headers, and params._meta with the protocol version and the client's capabilities (the earlier "
                "revisions open with initialize instead).")
    error = {"jsonrpc": "2.0", "id": message["id"], "error": {"code": code, "message": sentence}}
    return ERROR_CODE_HTTP_STATUS.get(code, 400), error


def _replay(body: bytes, receive):
    """`receive` for an app that reads the request again: the body read already, then whatever comes next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed():
        return pending.pop() if pending else await receive()

    return replayed


def _announced(send, token: str | None, on_session):
    """Watch for the `endpoint` event: note the session id it announces (awaited before the client learns it, so
    that the session can take messages from the first), and put the stream's ?token= into the message URL (the
    SDK announces it without the query string, and a client that authenticates with ?token= cannot set headers:
    without it every message it posts is refused)."""
    pending = [True]

    async def wrapped(message):
        body = message.get("body", b"")
        if pending and message["type"] == "http.response.body" and b"event: endpoint" in body:
            pending.clear()
            await on_session(parse_qs(body.split(b"?", 1)[1].split(b"\r\n")[0].decode()).get("session_id", [""])[0])
            if token is not None:
                body = body.replace(b"?session_id=", f"?token={quote(token)}&session_id=".encode(), 1)
                message = {**message, "body": body}
        await send(message)

    return wrapped


def _session_id(scope) -> str:
    """The session id a message URL names, as the stream announced it (32 hex digits); "" when it names none."""
    value = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_id", [""])[0]
    try:
        return uuid.UUID(hex=value).hex
    except ValueError:
        return ""


class _Sse:
    """The SDK's SSE transport, one per (user, app); a session's messages reach it from any web process
    (mcp_bridge.relay)."""

    def __init__(self):
        # (user, app) -> [its transport, how many of its streams are open here]: dropped with its last stream, so
        # that the map holds what is connected now, not every (user, app) that ever connected.
        self._transports: dict[tuple, list] = {}
        # The sessions whose streams this process holds -> the stream their answers go down (None for the moment
        # between the endpoint event and the SDK handing the stream over).
        self._sessions: dict[str, object] = {}

    @contextlib.contextmanager
    def _held(self, identity):
        key = (identity.user.pk, identity.app.pk)
        held = self._transports.setdefault(key, [SseServerTransport("/messages/", security_settings=_SDK_SECURITY), 0])
        held[1] += 1
        try:
            yield held[0]
        finally:
            held[1] -= 1
            if held[1] == 0:
                self._transports.pop(key, None)

    def transport(self, identity) -> SseServerTransport:
        """The transport of the (user, app)'s open streams; with none open here, a new one, kept by nobody, whose
        answer to a message is the SDK's own 404 for a session it does not know."""
        held = self._transports.get((identity.user.pk, identity.app.pk))
        return held[0] if held else SseServerTransport("/messages/", security_settings=_SDK_SECURITY)

    async def stream(self, identity, scope, receive, send):
        # root_path = this path, so the announced endpoint keeps client and user: .../sse/<user>/messages/
        scope = {**scope, "root_path": scope["path"].rstrip("/")}
        session = {}  # the id the endpoint event announces, and the stream its answers go down: whichever is first

        async def announced(session_id: str):
            session["id"] = session_id
            self._sessions[session_id] = session.get("write")
            if relay.enabled:
                await relay.hold(relay_channel(identity.user.pk, identity.app.pk, session_id),
                                 self._relayed(identity, scope, session_id))
                await relay.hold(refusal_channel(session_id), self._refused(session_id))

        lowlevel = server._lowlevel_server
        send = _announced(send, token_in_query(scope), announced)
        try:
            with self._held(identity) as transport:
                async with transport.connect_sse(scope, receive, send) as (read, write):
                    session["write"] = write
                    if "id" in session:
                        self._sessions[session["id"]] = write
                    await lowlevel.run(read, write, lowlevel.create_initialization_options())
        finally:
            if (session_id := session.get("id")) is not None:
                self._sessions.pop(session_id, None)
                if relay.enabled:
                    await relay.release(relay_channel(identity.user.pk, identity.app.pk, session_id))
                    await relay.release(refusal_channel(session_id))

    async def message(self, identity, scope, receive, send):
        session_id = _session_id(scope)
        if session_id in self._sessions or not relay.enabled or not session_id:  # the SDK answers for malformed ids
            return await self.transport(identity).handle_post_message(scope, receive, send)
        await self._relay(identity, session_id, receive, send)

    async def _relay(self, identity, session_id: str, receive, send) -> None:
        """A message for a session this process does not hold: to the process that does, through Redis."""
        async def refuse(status: int, refusal: str):  # the sentences the SDK's refusals get in one process
            code, sentence = _SDK_REFUSALS[refusal]
            await send_json(send, status, {"detail": sentence, "code": code})

        body = await _body(receive, _MAX_MESSAGE)
        if body is None:
            return await refuse(413, "Request body too large")
        try:
            types.jsonrpc_message_adapter.validate_json(body, by_name=False)
        except ValueError:  # pydantic's ValidationError
            return await refuse(400, "Could not parse message")
        try:
            taken = await relay.publish(relay_channel(identity.user.pk, identity.app.pk, session_id), body)
        except (RedisError, OSError):
            return await send_json(send, 503, {"detail": "The message could not reach its session (Redis does not "
                                                         "answer): try again shortly.", "code": "unavailable"},
                                   [(b"retry-after", b"5")])
        if not taken:
            return await refuse(404, "Could not find session")
        await send_json(send, 202, {"detail": "Accepted."})

    def _relayed(self, identity, scope, session_id: str):
        """What the holding process does with a relayed message: what it does with one POSTed to it."""
        post = {**scope, "method": "POST", "query_string": f"session_id={session_id}".encode(),
                "headers": [(b"content-type", b"application/json")]}

        async def deliver(body: bytes):
            async def receive():
                return {"type": "http.request", "body": body, "more_body": False}

            async def discard(message):
                return None

            # The message carries its sender's context to the tool call (the SDK's context streams): the identity.
            token = current.set(identity)
            try:
                await self.transport(identity).handle_post_message(post, receive, discard)
            finally:
                current.reset(token)

        return deliver

    def _refused(self, session_id: str):
        """What the holding process does with a refusal another process relays: send it down the stream."""
        async def deliver(body: bytes):
            refusal = json.loads(body)
            await self._send_refusal(session_id, refusal["id"], refusal["message"], refusal["code"])

        return deliver

    async def answer(self, session_id: str, request_id, error: ApplicationError) -> None:
        """An error for a request the session's client posted but that never reached the session: down the stream
        here, or through Redis to the process that holds it (the database may be down, Redis up)."""
        if session_id in self._sessions:
            return await self._send_refusal(session_id, request_id, error.message, error.code)
        if relay.enabled and session_id:
            refusal = json.dumps({"id": request_id, "message": error.message, "code": error.code}).encode()
            with contextlib.suppress(RedisError, OSError):  # then the POST's own 503 is all the client gets
                await relay.publish(refusal_channel(session_id), refusal)

    async def _send_refusal(self, session_id: str, request_id, message: str, code: str) -> None:
        write = self._sessions.get(session_id)
        if write is None:
            return
        refusal = types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(
            code=-32000, message=message, data={"code": code}))
        with contextlib.suppress(Exception):  # the stream may be closing: then there is no one waiting
            await write.send(SessionMessage(refusal))


_MAX_MESSAGE = 4 * 2**20  # the SDK's limit on an MCP message


async def _body(receive, limit: int) -> bytes | None:
    """The request's body, or None when it is larger than `limit`."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body"):
            return body


streamable_http = _StreamableHttp()
sse = _Sse()
# Stateless: no GET stream to offer. A 405 tells a client so at once (the spec's answer), instead of a stream
# that never speaks.
streamable_http_app = _bound(streamable_http.handle, route="mcp-http", methods=("POST",),
                             refusal="This streamable-HTTP endpoint takes POSTed messages only; it offers no GET stream.")
# A POST here is a streamable-HTTP client trying the SSE URL first: 405 makes it fall back to SSE (mcp-remote's
# http-first), where a 200 stream would leave it waiting for an answer that never comes.
sse_app = _bound(sse.stream, route="mcp-sse", methods=("GET",),
                 refusal="This is the SSE endpoint: open it with GET. For streamable HTTP use .../http/<user>.")
sse_message_app = _bound(sse.message, route="mcp-sse-message", methods=("POST",),
                         refusal="Post MCP messages to this URL.")
