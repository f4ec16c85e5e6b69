import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from oauth2_provider.models import (get_access_token_model, get_application_model, get_grant_model,
                                    get_refresh_token_model)
from oauth2_provider.settings import oauth2_settings

from openmemory.errors import AccessDenied, ApplicationError, NotFound
from openmemory.models import ApiToken, token_digest

User = get_user_model()
logger = logging.getLogger("openmemory.access")

MAX_USER_ID = 150


def user_id_check(user_id) -> str:
    """The one rule for user ids, wherever a user comes to exist: what Django's usernames and the MCP routes
    (`[\\w.@+-]`) both accept, so that every user can be reached on every transport."""
    user_id = str(user_id or "")
    problem = None
    if not user_id or len(user_id) > MAX_USER_ID:
        problem = f"A user id has 1 to {MAX_USER_ID} characters."
    else:
        try:
            UnicodeUsernameValidator()(user_id)
        except ValidationError:
            problem = "A user id holds only letters, digits and the characters . @ + - _ (no spaces, slashes or emoji)."
    if problem:
        raise ApplicationError(f"'{user_id[:40]}' is not a valid user id. {problem}")
    return user_id


@transaction.atomic
def user_get_or_create(*, username: str, is_staff: bool = False) -> AbstractUser:
    user, created = User.objects.get_or_create(username=user_id_check(username))
    if is_staff and not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return user


def token_create(*, user: AbstractUser, name: str = "default", act_as_any: bool = False) -> tuple[ApiToken, str]:
    """A new token for the user; returns it with its key, which is never stored and cannot be shown again.

    A token acts for its own user; one made with `act_as_any` may also name another user (an admin's script).
    """
    key = ApiToken.new_key()
    token = ApiToken.objects.create(user=user, name=name, digest=token_digest(key), prefix=key[:10],
                                    act_as_any=act_as_any)
    return token, key


def token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def token_lookup(key: str) -> ApiToken | None:
    """The live token of an active user for this key (with its user), or None; notes when the token was last
    used (once a minute at most)."""
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
    return token


def token_user(key: str) -> AbstractUser | None:
    token = token_lookup(key)
    return token.user if token else None


def user_acted_for(*, caller: AbstractUser, token: ApiToken | None, user_id: str | None) -> AbstractUser:
    """The user a request acts on: the caller, or, for a token made to act for any user, the one it names.

    Being staff is not enough: staff use the admin; a script acting for others uses a token made for that,
    and each such request is logged with both names.
    """
    if not user_id or user_id == caller.get_username():
        return caller
    if token is None or not token.act_as_any:
        raise AccessDenied(f"Your token belongs to '{caller.get_username()}', not to '{user_id}'.")
    user = User.objects.filter(username=user_id).first()
    if user is None:
        raise NotFound(f"No user '{user_id}'.")
    logger.info("token #%s ('%s') of '%s' acts for '%s'", token.pk, token.name, caller.get_username(), user_id)
    return user


def oauth_clients_unused_delete() -> int:
    """Registered clients (RFC 7591, or from a client metadata document) that never got a token within
    OAUTH_UNUSED_CLIENT_HOURS: removed, so that registrations nobody completes do not pile up. A client that ever got a code or a token stays. Returns how many."""
    Application, AccessToken = get_application_model(), get_access_token_model()
    cutoff = timezone.now() - timedelta(hours=settings.OAUTH_UNUSED_CLIENT_HOURS)
    used_tokens = AccessToken.objects.filter(application=OuterRef("pk")).exclude(
        scope=oauth2_settings.DCR_REGISTRATION_SCOPE)  # the registration's own management token is no use
    unused = Application.objects.filter(  # a CIMD client's row comes back from its document when it is next used
        registration_source__in=[Application.RegistrationSource.DCR, Application.RegistrationSource.CIMD],
        created__lt=cutoff).exclude(
        Exists(used_tokens) | Exists(get_grant_model().objects.filter(application=OuterRef("pk")))
        | Exists(get_refresh_token_model().objects.filter(application=OuterRef("pk"))))
    _, by_model = unused.delete()
    return by_model.get(Application._meta.label, 0)


@transaction.atomic
def oauth_client_disconnect(*, user: AbstractUser, application_id) -> int:
    """Cut an OAuth client off from the user's memories: its access and refresh tokens and pending codes for this
    user go (the client's registration stays; it must ask the user again). Returns how many tokens went."""
    AccessToken, RefreshToken, Grant = get_access_token_model(), get_refresh_token_model(), get_grant_model()
    tokens = AccessToken.objects.filter(user=user, application_id=application_id)
    if not tokens.exists():
        raise NotFound("No client with that id is connected.")
    RefreshToken.objects.filter(user=user, application_id=application_id).delete()
    Grant.objects.filter(user=user, application_id=application_id).delete()
    return tokens.delete()[1].get(AccessToken._meta.label, 0)
