import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import UserRateThrottle

logger = logging.getLogger(__name__)


class ApiUserThrottle(UserRateThrottle):
    """Requests per user (what a token acts as); the rate is read from settings when a request comes.

    The counts live in the cache (Redis in production). When the cache is away the request goes through
    unmetered, with a log line: a rate limit must not take the API down with it.
    """

    def get_rate(self):
        return settings.API_THROTTLE_RATE

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("rate limit not checked: the cache is unavailable (%s)", type(exc).__name__)
            return True
