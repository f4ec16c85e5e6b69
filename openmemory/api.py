"""What every REST view shares: whose data a request acts on, paging, epoch times."""
import math
import uuid
from datetime import datetime, timezone

from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.views import APIView

from openmemory.authentication import requested_user_id
from openmemory.models import ApiToken
from openmemory.services import user_acted_for

MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000
MAX_EPOCH = 253_402_300_799  # the last second of year 9999


def acting_user(request, user_id: str | None) -> AbstractUser:
    """The user a request acts on: the caller, or the user its `user_id` names for a token made to act for any."""
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return user_acted_for(caller=request.user, token=token, user_id=user_id)


class UserScopedView(APIView):
    """Every user-data endpoint's one rule for whose data it acts on (`self.user`), decided before the handler
    runs: the caller, or the user `user_id` names for a token made to act for any user (403 for any other token,
    404 for no such user). `request.user` stays the caller: the actor in history rows and logs."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles first
        user_id = requested_user_id(request)
        if user_id is not None:
            user_id = validated(_UserIdIn, {"user_id": user_id})["user_id"]
        self.user = acting_user(request, user_id)


def answered_before_commit():
    """Make a write's answer inside its transaction: once the write commits, nothing is left that could fail
    (a database lost right after the commit would else answer 503 for a write that was made, and a client that
    retries it would make it twice)."""
    return transaction.atomic()


def validated(serializer_class, data) -> dict:
    """The serializer's validated data, or a 400 naming the fields (DRF's ValidationError)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def paged_body(key: str, items: list, total: int, page: int, page_size: int) -> dict:
    """The app and access-log listings' shape: {"total", "page", "page_size", <key>: [...]}."""
    return {"total": total, "page": page, "page_size": page_size, key: items}


def paged_out(name: str, key: str, items: serializers.Serializer) -> type[serializers.Serializer]:
    """The schema of a paged_body() (a named class, as the OpenAPI document needs one per shape)."""
    fields = {"total": serializers.IntegerField(), "page": serializers.IntegerField(),
              "page_size": serializers.IntegerField(), key: items}
    return type(name, (serializers.Serializer,), fields)


def parse_uuid(value) -> uuid.UUID | None:
    """The UUID a client sent, or None when it is not one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def from_epoch(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=timezone.utc) if value is not None else None


def naive_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC without a zone: where OpenMemory answers so (its UI appends the `Z` itself)."""
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat() if value else None


@extend_schema_field({
    "type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$",
    "example": "2026-11-26T04:01:09.991731",
})
class NaiveUtcDateTimeField(serializers.DateTimeField):
    """Not `format: date-time` in the schema: RFC 3339 needs a zone, and these values have none."""

    def to_representation(self, value):
        return naive_utc(value)


class EpochField(serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=MAX_EPOCH, help_text="Unix time, seconds.", **kwargs)


class PageField(serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_PAGE, default=1, **kwargs)


class UserIdField(serializers.CharField):
    """The OpenMemory user id; empty or absent means the token's user."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_blank=True, max_length=150,
                         help_text="Defaults to the token's user; another user's only with a token made to act for any user.", **kwargs)


class _UserIdIn(serializers.Serializer):
    user_id = UserIdField()


class PageIn(serializers.Serializer):
    page = PageField()
    size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=10)


class PageSizeIn(serializers.Serializer):
    page = PageField()
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=10)


def page_of(items: QuerySet | list, page: int, size: int, total: int | None = None) -> tuple[list, int]:
    """(the items of one page, the total): two queries however large the set (a list: what a search found), one
    when the caller knows the total."""
    if total is None:
        total = len(items) if isinstance(items, list) else items.count()
    return list(items[(page - 1) * size: page * size]), total


def memory_page_body(items: list[dict], total: int, page: int, size: int) -> dict:
    return {"items": items, "total": total, "page": page, "size": size, "pages": math.ceil(total / size) if total else 0}

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
