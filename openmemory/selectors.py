"""Reads of a user's sign-in things: API tokens and the OAuth clients connected to their memories."""
from django.contrib.auth.models import AbstractUser
from django.db.models import Count, Max, QuerySet
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from oauth2_provider.settings import oauth2_settings

from openmemory.errors import NotFound
from openmemory.models import ApiToken


def tokens_of_user(*, user: AbstractUser) -> QuerySet[ApiToken]:
    """The user's tokens that still work, newest first."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-id")


def token_of_user(*, user: AbstractUser, token_id) -> ApiToken:
    token = tokens_of_user(user=user).filter(pk=token_id).first()
    if token is None:
        raise NotFound("No token with that id.")
    return token


def oauth_clients_connected(*, user: AbstractUser) -> QuerySet:
    """The OAuth clients holding a token of the user that has not expired, with when it was last granted: one
    query (the registration's own management token is not a connection)."""
    live = (get_access_token_model().objects.filter(user=user, expires__gt=timezone.now())
            .exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE))
    return (live.values("application_id", "application__name", "application__client_id")
            .annotate(tokens=Count("id"), last_granted=Max("created")).order_by("application__name", "application_id"))
