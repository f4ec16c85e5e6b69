import logging
import math

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


def throttled_sentence(wait: float) -> str:
    return (f"Request was throttled: each user may make {settings.API_THROTTLE_RATE} requests (REST calls and MCP "
            f"tool calls together); try again in {max(1, math.ceil(wait))} s.")


class FailOpenThrottle(SimpleRateThrottle):
    """The counts live in the cache (Redis in production). When the cache is away the request goes through
    unmetered, with a log line: a rate limit must not take the API down with it."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("rate limit not checked: the cache is unavailable (%s)", type(exc).__name__)
            return True


class ApiUserThrottle(FailOpenThrottle, UserRateThrottle):
    """Requests per user (what a token acts as); the rate is read from settings when a request comes."""

    def get_rate(self):
        return settings.API_THROTTLE_RATE


class _UserCalls(ApiUserThrottle):
    """The same count as a REST request's, for a call that is not one (an MCP tool call)."""

    def __init__(self, user):
        super().__init__()
        self.user = user

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.user.pk}


def user_call_wait(user) -> float | None:
    """Count one call of this user's against API_THROTTLE_RATE: None when it may go on, else the seconds to wait."""
    throttle = _UserCalls(user)
    return None if throttle.allow_request(None, None) else (throttle.wait() or 1.0)
