import json
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Case, FloatField, Q, Value, When
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join

from apps_registry.admin import app_label
from apps_registry.models import App
from apps_registry.services import app_require_owner
from memories import services
from memories.services import memories_recategorize, taxonomy
from memories.config import DEFAULT_CONFIG, is_local_embedder
from memories.models import Category, Config, Memory, MemoryAccessLog, MemoryChange, MemoryStatusHistory
from memories.rules import memory_text_check, metadata_check
from memories.selectors import CONFIG_KEY, RELATED, config_current, memories_by_relevance, memories_related
from openmemory.errors import ApplicationError

_SHOWN_ROWS = 50


def _state_action(state: str, label: str):
    def action(modeladmin, request, queryset):
        changed = services.memories_set_state(memories=queryset, state=state, actor=request.user)
        modeladmin.message_user(request, f"{changed} memories set to {state}.", messages.SUCCESS)

    action.__name__ = f"set_{state}"
    action.short_description = label
    return action


class MemoryForm(forms.ModelForm):
    """The services' rules, checked where staff type: a sentence on the form, never a 500 or a row that breaks them."""

    class Meta:
        model = Memory
        fields = ["content", "owner", "app", "categories", "metadata"]

    def clean(self):
        data = super().clean()
        try:
            if "content" in data:
                data["content"] = memory_text_check(data["content"])
            if "metadata" in data:
                metadata_check(data["metadata"])
            if self.instance._state.adding and data.get("owner") and data.get("app"):
                app_require_owner(data["app"], data["owner"])
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc
        return data


class AppWithOwnerFilter(admin.RelatedFieldListFilter):
    def field_choices(self, field, request, model_admin):
        apps = App.objects.select_related("owner").order_by("name", "owner__username")
        return [(app.pk, app_label(app)) for app in apps]


class _RankedChangeList(ChangeList):
    """A search's hits best first, unless staff sort by a column."""

    def get_queryset(self, request, exclude_parameters=None):
        found = super().get_queryset(request, exclude_parameters)
        if ORDER_VAR not in self.params and "search_rank" in found.query.annotations:
            found = found.order_by("search_rank", "-created_at", "-pk")
        return found


MAX_SEARCH_CHARS = 500  # as the REST listing's search_query: a longer "search" is a paste, not a question


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    form = MemoryForm
    list_display = ["short_content", "owner", "app_with_owner", "state", "category_names", "created_at"]
    list_filter = ["state", ("app", AppWithOwnerFilter), "categories", "owner", "created_at"]
    search_fields = ["content"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]  # new memories on top
    show_full_result_count = False  # no second COUNT(*) over every memory on each page
    list_per_page = 50
    fields = ["content", "owner", "app", "state", "categories", "metadata", "created_at", "updated_at",
              "archived_at", "deleted_at", "content_history_table", "status_history_table", "access_log_table",
              "related_memories"]
    readonly_fields = ["state", "created_at", "updated_at", "archived_at", "deleted_at", "content_history_table",
                       "status_history_table", "access_log_table", "related_memories"]
    # What a new memory is given: its categories come from the categorizer, its history from the services.
    _ADD_FIELDS = ["content", "owner", "app", "metadata"]
    autocomplete_fields = ["categories"]
    actions = [
        _state_action(Memory.State.ACTIVE, "Activate selected memories"),
        _state_action(Memory.State.PAUSED, "Pause selected memories"),
        _state_action(Memory.State.ARCHIVED, "Archive selected memories"),
        _state_action(Memory.State.DELETED, "Delete selected memories (soft: state deleted, vector removed)"),
        "recategorize",
    ]

    @admin.action(description="Categorize selected memories again (in the background)")
    def recategorize(self, request, queryset):
        memories_recategorize(list(queryset.live()))
        self.message_user(request, "Categorization queued.", messages.SUCCESS)

    def get_queryset(self, request):
        # Owner and app (with its owner) joined for the list and the memory page alike; with this, the changelist
        # applies no list_select_related of its own.
        return super().get_queryset(request).select_related("owner", "app__owner").with_categories()

    def get_search_results(self, request, queryset, search_term):
        """The engine's search (meaning and words, per owner), best first, with the substring match kept for
        exact text (after the ranked hits)."""
        if len(search_term) > MAX_SEARCH_CHARS:
            messages.error(request, f"The search is longer than {MAX_SEARCH_CHARS} characters: search for a few words "
                                    "or a sentence.")
            return queryset.none(), False
        matched, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not search_term.strip():
            return matched, may_have_duplicates
        ranked = memories_by_relevance(query=search_term, memories=queryset)
        rank = Case(*[When(pk=pk, then=Value(i)) for i, (pk, _) in enumerate(ranked)], default=Value(len(ranked)))
        score = Case(*[When(pk=pk, then=Value(s)) for pk, s in ranked], default=Value(None), output_field=FloatField())
        found = (queryset.filter(Q(pk__in=matched.values("pk")) | Q(pk__in=[pk for pk, _ in ranked]))
                 .annotate(search_rank=rank, search_score=score))
        return found, may_have_duplicates

    def get_list_display(self, request):
        if request.GET.get("q", "").strip():  # a search: its score beside each hit
            return ["short_content", "score", *self.list_display[1:]]
        return self.list_display

    @admin.display(description="score", ordering="search_rank")
    def score(self, memory):
        value = getattr(memory, "search_score", None)
        return "text" if value is None else f"{value:.3f}"

    def get_changelist(self, request, **kwargs):
        return _RankedChangeList

    def get_fields(self, request, obj=None):
        return self.fields if obj else self._ADD_FIELDS

    def get_readonly_fields(self, request, obj=None):
        # Owner and app are chosen when a memory is created; after that its content, categories and metadata
        # are edited here.
        return [*self.readonly_fields, "owner", "app"] if obj else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        # A deleted memory is shown as it was left, read-only: nothing brings it back.
        return super().has_change_permission(request, obj) and not (obj and obj.state == Memory.State.DELETED)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a hard delete would leave the vector behind: use the soft delete
        return actions

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="content")
    def short_content(self, memory):
        return memory.content[:100]

    @admin.display(description="app", ordering="app__name")
    def app_with_owner(self, memory):
        return app_label(memory.app)

    @admin.display(description="categories")
    def category_names(self, memory):
        return ", ".join(memory.category_names)

    @admin.display(description=f"content history (latest {_SHOWN_ROWS}, oldest first)")
    def content_history_table(self, memory):
        rows = list(MemoryChange.objects.filter(memory_id=memory.pk).order_by("-recorded_at", "-id")[:_SHOWN_ROWS])
        added_by = f"{memory.owner} via {memory.app.name}"
        return _table(["when", "event", "old", "new", "by"], (
            (c.recorded_at, c.event, c.old_memory or "-", c.new_memory or "-",
             c.actor_id or (added_by if c.event == "ADD" else "-")) for c in reversed(rows)))

    @admin.display(description="status history")
    def status_history_table(self, memory):
        rows = MemoryStatusHistory.objects.filter(memory=memory).select_related("changed_by").order_by("-changed_at")
        return _table(["when", "from", "to", "by"], (
            (h.changed_at, h.old_state or "-", h.new_state, h.changed_by or "-") for h in rows[:_SHOWN_ROWS]))

    @admin.display(description=f"access log (latest {_SHOWN_ROWS})")
    def access_log_table(self, memory):
        rows = MemoryAccessLog.objects.filter(memory=memory).select_related("app").order_by("-accessed_at")
        return _table(["when", "app", "type"], ((a.accessed_at, a.app, a.access_type) for a in rows[:_SHOWN_ROWS]))

    @admin.display(description=f"related memories (the owner's {RELATED} closest in meaning)")
    def related_memories(self, memory):
        if memory.state == Memory.State.DELETED:
            return "-"
        return _table(["memory", "similarity", "app", "state"], (
            (format_html('<a href="{}">{}</a>', reverse("admin:memories_memory_change", args=[other.pk]),
                         other.content[:100]), f"{score:.2f}", other.app.name, other.state)
            for other, score in memories_related(memory=memory)))

    def save_model(self, request, obj, form, change):
        # Through the services, so the vector, the keyword index and the history follow the row.
        if change:
            if "content" in form.changed_data:
                services.memory_update(memory=obj, text=obj.content, actor=request.user,
                                       categorize="categories" not in form.changed_data)
            if "metadata" in form.changed_data:
                services.memory_set_metadata(memory=obj, metadata=obj.metadata)
            return
        result = services.memory_create(user=obj.owner, app=obj.app, text=obj.content, metadata=obj.metadata, infer=False)
        obj.pk = result.memory.pk

    def save_related(self, request, form, formsets, change):
        # Categories chosen here replace the categorizer's, through the services (never the form's own M2M save).
        if change and "categories" in form.changed_data:
            services.memory_set_categories(memory=form.instance, categories=form.cleaned_data["categories"])


def _table(headers, rows):
    rows = [[localize(timezone.localtime(c)) if isinstance(c, datetime) else c for c in row] for row in rows]
    if not rows:
        return "-"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join("", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows))
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]


class ConfigDocumentForm(forms.Form):
    document = forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}),
                               help_text="The whole stored document (JSON); what it leaves out takes the defaults "
                                         "shown beside it. Saving replaces it.")

    def clean_document(self):
        try:
            document = json.loads(self.cleaned_data["document"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"The document is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                        f"column {exc.colno}.") from exc
        if problems := services.config_problems(document):
            raise forms.ValidationError(problems)
        return document


@admin.register(Config)
class ConfigAdmin(admin.ModelAdmin):
    """The configuration is one document: one page shows it with the defaults and the active providers, saves
    it (validated, through the services) and checks it with one tiny call to the embedder and the LLM."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:memories_config_changelist")

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        may_change = self.has_change_permission(request)
        row = Config.objects.filter(key=CONFIG_KEY).first()
        stored = row.value if row else {}
        form, checks = ConfigDocumentForm(initial={"document": json.dumps(stored, indent=2)}), None
        if request.method == "POST" and may_change and "_check" in request.POST:
            checks = services.config_check()
        elif request.method == "POST" and may_change:
            form = ConfigDocumentForm(request.POST)
            if form.is_valid():
                try:
                    saved = services.config_save(document=form.cleaned_data["document"], replace=True, probe=True)
                except ApplicationError as exc:
                    form.add_error("document", exc.message)
                else:
                    self.message_user(request, f"Configuration saved as version {saved.version}.", messages.SUCCESS)
                    return redirect("admin:memories_config_changelist")
        _, effective = config_current()
        mem0_section = effective["mem0"]
        context = {
            **self.admin_site.each_context(request), "title": "Configuration", "opts": self.model._meta,
            "form": form, "checks": checks, "may_change": may_change, "row": row,
            "defaults": json.dumps(DEFAULT_CONFIG, indent=2), "active": [
                ("LLM", _provider(mem0_section["llm"], "none: memories are stored as given, categorized offline")),
                ("Embedder", "all-MiniLM-L6-v2, in process (384 dimensions)" if is_local_embedder(
                    mem0_section["embedder"]) else _provider(mem0_section["embedder"], "")),
                ("Vector store", _provider(mem0_section["vector_store"], "the database of record "
                                           f"({connection.vendor})")),
                ("Categories", ", ".join(name for name, _, _ in taxonomy())),
            ],
        }
        return TemplateResponse(request, "admin/memories/config/configuration.html", context)


def _provider(section: dict | None, default: str) -> str:
    if not section or not section.get("provider"):
        return default
    model = (section.get("config") or {}).get("model")
    return f"{section['provider']}" + (f" ({model})" if model else "")
