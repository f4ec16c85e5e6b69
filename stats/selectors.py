from django.contrib.auth.models import AbstractUser

from apps_registry.models import App
from apps_registry.selectors import apps_with_counts
from memories.models import Memory


def user_stats(*, user: AbstractUser) -> tuple[list[App], int]:
    """(the user's apps with their figures, the number of memories not deleted): two queries."""
    apps = list(apps_with_counts(user=user).order_by("name"))
    return apps, Memory.objects.live().filter(owner=user).count()
