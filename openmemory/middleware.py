import logging
import time

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

from openmemory import metrics
from openmemory.errors import database_unavailable

logger = logging.getLogger("openmemory.request")


class RequestLogMiddleware:
    """One line per request: method, path (never the query string: it may carry ?token=), status, time, user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        user = getattr(request, "user", None)
        username = user.get_username() if user is not None and user.is_authenticated else "-"
        logger.info("%s %s %s %.1fms user=%s", request.method, request.path, response.status_code, elapsed_ms, username)
        match = getattr(request, "resolver_match", None)
        metrics.request_done(route=(match.view_name if match else "unmatched"), method=request.method,
                             status=response.status_code, seconds=elapsed_ms / 1000)
        return response


class DatabaseOutageMiddleware:
    """A database that is down (or locked past the wait) answers 503 with Retry-After and our sentence on every
    Django page; the REST API's own handler does the same for its views."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        error = database_unavailable(exception)
        response = JsonResponse({"detail": error.message, "code": error.code}, status=error.status_code)
        response["Retry-After"] = str(error.retry_after)
        return response
