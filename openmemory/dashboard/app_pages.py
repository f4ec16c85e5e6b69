"""Apps: each client with its figures, pause and resume, its memories and its access rules."""
import uuid

from django.shortcuts import render

from apps_registry.models import AccessControl
from apps_registry.selectors import access_rules, app_get, app_memories, app_owned, apps_with_use
from apps_registry.services import access_rule_create, access_rule_delete, app_set_active
from memories.selectors import memory_get
from openmemory.dashboard.pages import back, page, posted_id
from openmemory.errors import ApplicationError, NotFound

SHOWN_MEMORIES = 10  # the latest; the link below lists them all with search


@page
def apps(request):
    if request.method == "POST":
        return _pause_or_resume(request, app_owned(user=request.user, app_id=posted_id(request, "app")))
    return render(request, "dashboard/apps.html", {"apps": apps_with_use(user=request.user)})


def _pause_or_resume(request, app):
    paused = request.POST.get("action") == "pause"
    app_set_active(app=app, is_active=not paused)
    return back(request, f"{app.name} is {'paused: it can no longer read or add memories' if paused else 'resumed'}.",
                "dashboard:apps")


@page
def app(request, app_id):
    app = app_get(user=request.user, app_id=app_id)
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("pause", "resume"):
            return _pause_or_resume(request, app)
        if action == "delete-rule":
            rule = access_rules(app=app).filter(pk=posted_id(request, "rule")).first()
            if rule is None:
                raise NotFound("No rule with that id.")
            access_rule_delete(rule=rule)
            return back(request, "The rule is removed.")
        return _add_rule(request, app)
    memories = app_memories(app=app)
    return render(request, "dashboard/app.html", {
        "app": app, "memories": memories[:SHOWN_MEMORIES], "shown": SHOWN_MEMORIES, "rules": access_rules(app=app)})


def _add_rule(request, app):
    effect = request.POST.get("effect")
    if effect not in AccessControl.Effect.values:
        raise ApplicationError("A rule allows or denies.")
    memory_id = request.POST.get("memory", "").strip()
    memory = memory_get(user=request.user, memory_id=_uuid(memory_id)) if memory_id else None
    access_rule_create(app=app, effect=effect, memory=memory)
    return back(request, f"{app.name} is {'allowed' if effect == 'allow' else 'denied'} "
                         f"{'that memory' if memory else 'all of your memories'}.")


def _uuid(value: str):
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ApplicationError(f"'{value[:40]}' is not a memory id (a memory's page shows its id).") from exc
