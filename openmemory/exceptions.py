import logging

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from openmemory.errors import ApplicationError, database_unavailable
from openmemory.throttling import throttled_sentence

logger = logging.getLogger(__name__)


def api_exception_handler(exc, context):
    """Every error as `{"detail": sentence, "code": ...}` (field errors as DRF shapes them)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        exc = database_unavailable(exc)
    if isinstance(exc, ApplicationError):
        if exc.status_code >= 500:
            logger.warning("%s: %s", exc.code, exc.message)
        response = Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, exceptions.Throttled):
        wait, exc = exc.wait, exceptions.Throttled(detail=throttled_sentence(exc.wait or 1))
        exc.wait = wait  # (given to the constructor, DRF would add its own sentence about it)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("No such object.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc.detail)
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data["code"] = getattr(response.data["detail"], "code", None) or exc.default_code
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS and getattr(exc, "wait", None):
        response["Retry-After"] = str(int(exc.wait) + 1)
    return response


def _validation_body(detail) -> dict:
    """A sentence naming each field and what is wrong with it, plus DRF's field errors as they are."""
    body = {"detail": error_sentences(detail) or "Invalid input.", "code": "invalid"}
    if isinstance(detail, dict):
        body["errors"] = detail
    return body


def error_sentences(detail) -> str:
    """DRF's field errors as sentences that name each field (`memories[3].metadata: ...`)."""
    return " ".join(_sentences(detail))


def _sentences(detail, field: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [s for key, value in detail.items() for s in _sentences(value, _path(field, key))]
    if isinstance(detail, list):
        if any(isinstance(item, dict) for item in detail):  # a nested list of objects: name each by its index
            return [s for index, item in enumerate(detail) for s in _sentences(item, f"{field}[{index}]")]
        return [s for item in detail for s in _sentences(item, field)]
    return [f"{field}: {detail}" if field else str(detail)]


def _path(field: str, key) -> str:
    if key == "non_field_errors":
        return field
    if isinstance(key, int):  # an item of a list (DRF keys a list's errors by index)
        return f"{field}[{key}]"
    return f"{field}.{key}".strip(".")
