from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class ApiUserThrottle(UserRateThrottle):
    """Requests per user (what a token acts as); the rate is read from settings when a request comes."""

    def get_rate(self):
        return settings.API_THROTTLE_RATE
