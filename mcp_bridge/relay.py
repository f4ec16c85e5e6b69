"""SSE sessions across server processes: a message POSTed to a process that does not hold the session's stream is
published on the session's Redis channel, which only the process holding the stream subscribes to.

An SSE session lives in the process that opened its stream; its client POSTs each message to the URL the stream
announced, and behind `uvicorn --workers N` (or any balancer without sticky routing) that POST lands on any of
the processes. With REDIS_URL set, every process subscribes to the channels of the sessions it holds (one Redis
connection per process for all of them) and publishes the messages it receives for sessions it does not hold:
PUBLISH says how many processes took the message, so "nobody" is the same 404 a single process gives. The
channel names the user and app as well as the session: a session id shown on another user's path reaches no one.
Without REDIS_URL there is nothing to relay through: one web process, or sticky routing.
"""
import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("openmemory.mcp")

Handler = Callable[[bytes], Awaitable[None]]
_RETRY = 1.0  # seconds between tries to read again after Redis went away


def channel(user_pk, app_pk, session_hex: str) -> str:
    return f"openmemory:mcp-sse:{user_pk}:{app_pk}:{session_hex}"


def refusal_channel(session_hex: str) -> str:
    """Where a process that could not take a session's message (its database down: it cannot tell whose the path
    is) sends the error for the session's stream. The session id alone names it, as it does in one process."""
    return f"openmemory:mcp-sse-refused:{session_hex}"


class Relay:
    def __init__(self):
        self._handlers: dict[str, Handler] = {}
        self._subscribed: set[str] = set()  # what Redis knows (redis-py subscribes again itself after a reconnect)
        self._client = self._pubsub = self._listener = self._loop = None

    @property
    def enabled(self) -> bool:
        return bool(settings.REDIS_URL)

    def _connect(self):
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a client belongs to the event loop it was made in
            import redis.asyncio as redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # A pooled connection made before Redis went away is dead once it is back: the first command on it
            # fails. One retry on a fresh connection then, or the first message relayed after an outage was a 503.
            self._client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2,
                                                retry=Retry(NoBackoff(), 1),
                                                retry_on_error=[RedisConnectionError, RedisTimeoutError])
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            self._loop, self._listener, self._subscribed = loop, None, set()
            # One (un)subscription at a time: redis-py's PubSub opens its connection on first use, and two
            # sessions subscribing at once made two, subscribing one of them on a connection nobody reads.
            self._changing = asyncio.Lock()
        return self._client

    async def hold(self, name: str, handler: Handler) -> None:
        """Deliver what other processes publish on `name` to `handler`, in order, until released."""
        self._connect()
        self._handlers[name] = handler
        try:
            await self._subscribe(name)
        except (RedisError, OSError) as exc:  # the session still works through this process; the listener retries
            logger.warning("SSE relay: cannot subscribe (%s): messages posted to other processes will fail", exc)
        if self._listener is None or self._listener.done():
            # An empty context: the listener outlives the request that started it, and must not carry its identity.
            self._listener = asyncio.create_task(self._listen(), context=contextvars.Context())

    async def release(self, name: str) -> None:
        self._handlers.pop(name, None)
        if name in self._subscribed and self._loop is asyncio.get_running_loop():
            self._subscribed.discard(name)
            with contextlib.suppress(RedisError, OSError):
                async with self._changing:
                    await self._pubsub.unsubscribe(name)

    async def publish(self, name: str, body: bytes) -> int:
        """How many processes took the message (0: no process holds that session). Raises RedisError."""
        return await self._connect().publish(name, body)

    async def _listen(self) -> None:
        while True:
            try:
                if missing := self._handlers.keys() - self._subscribed:  # subscriptions that failed in an outage
                    await self._subscribe(*missing)
                if not self._subscribed:
                    await asyncio.sleep(_RETRY)
                    continue
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except (RedisError, OSError) as exc:
                logger.warning("SSE relay: Redis unavailable (%s); retrying", exc)
                await asyncio.sleep(_RETRY)
                continue
            if message is None:
                continue
            name = message["channel"].decode()
            if (handler := self._handlers.get(name)) is not None:
                try:
                    await handler(message["data"])
                except Exception:  # one session's failure must not stop the others' messages
                    logger.exception("SSE relay: delivering a message to %s failed", name)

    async def _subscribe(self, *names: str) -> None:
        async with self._changing:
            await self._pubsub.subscribe(*names)
        self._subscribed.update(names)


relay = Relay()
