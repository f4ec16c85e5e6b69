import hmac
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from openmemory import metrics
from openmemory.health import database_state, redis_ok

logger = logging.getLogger(__name__)


def metrics_view(request):
    """Prometheus' text format (openmemory/metrics.py), for staff signed in or a scraper sending the metrics token."""
    if not (request.user.is_authenticated and request.user.is_staff) and not _metrics_token_sent(request):
        return JsonResponse({"detail": "Metrics are for staff, or a scraper sending 'Authorization: Bearer <the "
                                       "OPENMEMORY_METRICS_TOKEN>'.", "code": "not_authenticated"}, status=401)
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)


def _metrics_token_sent(request) -> bool:
    expected = settings.OPENMEMORY_METRICS_TOKEN
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def home(request):
    """What this server is, where its docs and console are, and how to connect an MCP client."""
    base = request.build_absolute_uri("/").rstrip("/")
    return render(request, "openmemory/home.html", {"base": base, "ws_base": "ws" + base.removeprefix("http")})


def healthz(request):
    """200 while requests can be served, 503 when they cannot: the database is down, or this process is busy (every
    connection of its pool in use; Retry-After: 1); the body says which.

    Redis down is "degraded", still 200: the API and MCP keep working (categorization waits for Redis to come
    back), and a balancer must not take every web process out of rotation for it.
    """
    checks = {"database": database_state()}
    if settings.REDIS_URL:
        checks["redis"] = "ok" if redis_ok() else "down"
    serving = checks["database"] == "ok"
    status = "ok" if all(value == "ok" for value in checks.values()) else "degraded" if serving else (
        "busy" if checks["database"] == "busy" else "unavailable")
    response = JsonResponse({"status": status, **checks}, status=200 if serving else 503)
    if checks["database"] == "busy":  # every connection of this process in use: it passes with the burst
        response["Retry-After"] = "1"
    return response


class Me(APIView):
    @extend_schema(
        summary="Who the token belongs to",
        responses=inline_serializer("Me", {"user_id": serializers.CharField(), "is_staff": serializers.BooleanField()}),
    )
    def get(self, request):
        return Response({"user_id": request.user.get_username(), "is_staff": request.user.is_staff})


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20
        return JsonResponse({"detail": f"The request body is larger than the {limit} MB a request may be "
                                       "(a backup import goes as a multipart file, which may be larger).",
                             "code": "too_large"}, status=413)
    if isinstance(exception, TooManyFieldsSent):
        return JsonResponse({"detail": "The request has too many fields.", "code": "invalid"}, status=400)
    return JsonResponse({"detail": "The request is malformed (a bad header or Host).", "code": "invalid"}, status=400)


def not_found(request, exception=None):
    return JsonResponse({"detail": f"No endpoint at {request.path}.", "code": "not_found"}, status=404)


def server_error(request):
    return JsonResponse({"detail": "The server failed; the error is logged.", "code": "server_error"}, status=500)
