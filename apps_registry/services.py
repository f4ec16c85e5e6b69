from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, transaction

from apps_registry.models import AccessControl, App, ArchivePolicy
from memories.models import Category
from openmemory.errors import AppPaused, ApplicationError, Conflict, NotFound

DEFAULT_APP = "openmemory"


def app_get_or_create(*, owner: AbstractUser, name: str) -> App:
    """The owner's app of that name, created on first use."""
    name = (name or DEFAULT_APP).strip()[:100] or DEFAULT_APP
    app = App.objects.filter(owner=owner, name=name).first()
    if app is not None:
        return app
    try:
        with transaction.atomic():
            return App.objects.create(owner=owner, name=name)
    except IntegrityError:  # another request created it meanwhile
        return App.objects.get(owner=owner, name=name)


def app_require_active(app: App) -> App:
    if not app.is_active:
        raise AppPaused(f"App '{app.name}' is paused: it can neither read nor write memories until it is resumed.")
    return app


def app_require_owner(app: App, owner: AbstractUser) -> App:
    """A memory lives in an app of its own owner: an app never holds another user's memories (they would be
    listed to the app's owner)."""
    if app.owner_id != owner.pk:
        raise ApplicationError(f"App '{app.name}' belongs to another user: a memory goes in an app of its owner.")
    return app


def app_set_active(*, app: App, is_active: bool) -> App:
    """Pause or resume an app: the one place `App.is_active` changes."""
    if app.is_active != is_active:
        app.is_active = is_active
        app.save(update_fields=["is_active", "updated_at"])
    return app


def access_rule_create(*, app: App, effect: str, memory=None) -> AccessControl:
    rule, created = AccessControl.objects.get_or_create(app=app, memory=memory, effect=effect)
    if not created:
        raise Conflict("The app already has that rule.")
    return rule


def access_rule_delete(*, rule) -> None:
    rule.delete()


def archive_policy_create(*, owner, criteria_type: str, criteria_id, days_to_archive: int) -> ArchivePolicy:
    """A policy of the owner's; its app must be the owner's and its category must exist."""
    app = category = None
    if criteria_type == ArchivePolicy.Criteria.APP:
        app = App.objects.filter(owner=owner, id=criteria_id).first()
        if app is None:
            raise NotFound("No app with that id.")
    if criteria_type == ArchivePolicy.Criteria.CATEGORY:
        category = Category.objects.filter(id=criteria_id).first()
        if category is None:
            raise NotFound("No category with that id.")
    return ArchivePolicy.objects.create(owner=owner, criteria_type=criteria_type, app=app, category=category,
                                        days_to_archive=days_to_archive)


def archive_policy_delete(*, policy) -> None:
    policy.delete()
