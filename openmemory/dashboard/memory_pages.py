"""Memories: the one search with filters, sort, paging and bulk changes; a memory's own page."""
import json
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from apps_registry.selectors import apps_of_user
from memories.selectors import (MemoryFilters, categories_in_use, memories_related, memory_access_logs, memory_get,
                                memory_history, memory_list)
from memories.services import (memories_of_user, memories_set_state, memory_set_categories, memory_set_metadata,
                               memory_set_state, memory_update)
from openmemory.dashboard.forms import SORTS, BulkForm, MemoryEditForm, MemoryFilterForm
from openmemory.dashboard.pages import PAGE_SIZE, back, page
from openmemory.errors import ApplicationError

SHOWN_LOG = 50  # access-log rows a memory's page shows


@page
def memories(request):
    if request.method == "POST":
        return _bulk(request)
    apps = apps_of_user(user=request.user)
    form = MemoryFilterForm(request.GET, apps=apps, categories=categories_in_use(user=request.user))
    if not form.is_valid():
        return render(request, "dashboard/memories.html", {"form": form, "rows": [], "total": 0}, status=400)
    data = form.cleaned_data
    column, direction = SORTS.get(data["sort"] or ("relevance" if data["q"] else "newest"))
    listing = memory_list(user=request.user, filters=_filters(data), sort_column=column or None,
                          sort_direction=direction)
    pages = max(1, -(-listing.total // PAGE_SIZE))
    number = min(data["page"] or 1, pages)
    return render(request, "dashboard/memories.html", {
        "form": form, "rows": listing.page(number, PAGE_SIZE), "total": listing.total, "number": number,
        "pages": pages, "searching": bool(data["q"]), "here": request.get_full_path(),
        "previous": _page_url(request, number - 1) if number > 1 else "",
        "next": _page_url(request, number + 1) if number < pages else ""})


def _page_url(request, number: int) -> str:
    query = request.GET.copy()
    query["page"] = number
    return f"?{query.urlencode()}"


def _filters(data) -> MemoryFilters:
    state = data["state"]
    states = () if state in ("", "all") else (state,)
    return MemoryFilters(
        app_ids=(data["app"],) if data["app"] else (), category_names=(data["category"],) if data["category"] else (),
        search_query=data["q"].strip(), from_date=_day(data["since"], time.min), to_date=_day(data["until"], time.max),
        show_archived=state == "all", states=states)


def _day(day, at):
    return timezone.make_aware(datetime.combine(day, at)) if day else None


def _bulk(request):
    form = BulkForm(request.POST)
    if not form.is_valid():
        raise ApplicationError(" ".join(error for errors in form.errors.values() for error in errors))
    chosen = memories_of_user(user=request.user, ids=form.cleaned_data["ids"])
    changed = memories_set_state(memories=chosen, state=BulkForm.ACTIONS[form.cleaned_data["action"]],
                                 actor=request.user)
    verb = {"resume": "resumed", "pause": "paused", "archive": "archived", "delete": "deleted"}
    return back(request, f"{changed} memories {verb[form.cleaned_data['action']]}.", "dashboard:memories")


@page
def memory(request, memory_id):
    memory = memory_get(user=request.user, memory_id=memory_id)
    form = MemoryEditForm(initial={"content": memory.content, "categories": ", ".join(memory.category_names),
                                   "metadata": _json(memory.metadata)})
    if request.method == "POST" and "state" in request.POST:
        state = _state(request.POST["state"])
        memory_set_state(memory=memory, state=state, actor=request.user)
        if state == "deleted":  # its page is gone with it
            messages.success(request, "The memory is deleted.")
            return redirect("dashboard:memories")
        return back(request, f"The memory is {state}.", "dashboard:memories")
    if request.method == "POST":
        form = MemoryEditForm(request.POST)
        if form.is_valid():
            return _save(request, memory, form.cleaned_data)
    return render(request, "dashboard/memory.html", {
        "memory": memory, "form": form, "history": memory_history(memory=memory),
        "changed": memory.updated_at - memory.created_at > timedelta(minutes=1),
        "access_log": memory_access_logs(memory=memory)[:SHOWN_LOG], "shown_log": SHOWN_LOG,
        "related": memories_related(memory=memory)}, status=400 if form.errors else 200)


def _state(value: str) -> str:
    if value not in ("active", "paused", "archived", "deleted"):
        raise ApplicationError("A memory's state is active, paused, archived or deleted.")
    return value


def _save(request, memory, data):
    """Only what changed: new text is embedded and categorized anew, unless categories were chosen with it."""
    categories_changed = data["categories"] != sorted(memory.category_names)
    if data["content"] != memory.content:
        memory = memory_update(memory=memory, text=data["content"], actor=request.user,
                               categorize=not categories_changed)
    if categories_changed:
        memory_set_categories(memory=memory, categories=data["categories"])
    if data["metadata"] != memory.metadata:
        memory_set_metadata(memory=memory, metadata=data["metadata"])
    return back(request, "Saved.", "dashboard:memories")


def _json(value) -> str:
    return json.dumps(value or {}, indent=2, ensure_ascii=False)
