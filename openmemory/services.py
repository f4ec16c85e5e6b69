from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone

from openmemory.models import ApiToken, token_digest

User = get_user_model()


@transaction.atomic
def user_get_or_create(*, username: str, is_staff: bool = False) -> AbstractUser:
    user, created = User.objects.get_or_create(username=username)
    if is_staff and not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return user


def token_create(*, user: AbstractUser, name: str = "default") -> tuple[ApiToken, str]:
    """A new token for the user; returns it with its key, which is never stored and cannot be shown again."""
    key = ApiToken.new_key()
    token = ApiToken.objects.create(user=user, name=name, digest=token_digest(key), prefix=key[:10])
    return token, key


def token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def token_user(key: str) -> AbstractUser | None:
    """The active user a key belongs to, or None; notes when the token was last used (once a minute at most)."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
