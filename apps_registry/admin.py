from django.contrib import admin, messages
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from apps_registry.models import AccessControl, App, ArchivePolicy
from apps_registry.services import app_set_active
from memories import services as memory_services
from memories.models import Memory


def app_label(app: App) -> str:
    """An app as staff must see it: two users' apps are often both called `claude`."""
    return f"{app.name} ({app.owner.get_username()})"


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "is_active", "memory_count", "created_at"]
    ordering = ["name", "owner__username"]
    list_filter = ["is_active"]
    search_fields = ["name", "owner__username"]
    list_select_related = ["owner"]
    readonly_fields = ["is_active", "pause_or_resume", "memories_link", "created_at", "updated_at"]
    actions = ["pause", "resume"]

    @admin.display(description="memories")
    def memories_link(self, app):
        if app.pk is None:
            return "-"
        url = reverse("admin:memories_memory_changelist") + f"?app__id__exact={app.pk}"
        return format_html('<a href="{}">Its {} memories</a>', url, Memory.objects.live().filter(app=app).count())

    @admin.display(description="pause")
    def pause_or_resume(self, app):
        if app.pk is None:
            return "-"
        if app.is_active:
            return format_html('<input type="submit" name="_pause" value="Pause this app"> It can then neither read '
                               "nor add memories.")
        return format_html('<input type="submit" name="_resume" value="Resume this app">')

    def response_change(self, request, obj):
        for button, is_active in (("_pause", False), ("_resume", True)):
            if button in request.POST:
                app_set_active(app=obj, is_active=is_active)
                self.message_user(request, f"{app_label(obj)} {'resumed' if is_active else 'paused'}.", messages.SUCCESS)
                return redirect(request.path)
        return super().response_change(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(memory_count=Count("memories"))

    @admin.display(description="memories", ordering="memory_count")
    def memory_count(self, app):
        return app.memory_count

    def _set_active(self, request, queryset, is_active: bool):
        for app in queryset:
            app_set_active(app=app, is_active=is_active)
        self.message_user(request, f"{queryset.count()} apps {'resumed' if is_active else 'paused'}.", messages.SUCCESS)

    def get_deleted_objects(self, objs, request):
        """What deleting apps does, said as it is done (through the services), instead of Django's row-by-row list
        and its refusal (memories have no delete permission: their rows are never deleted behind the engine)."""
        apps = list(objs)
        live = dict(Memory.objects.live().filter(app__in=apps).values("app").annotate(n=Count("id"))
                    .values_list("app", "n"))
        lines = [f"{app_label(app)}, and its {live.get(app.pk, 0)} memories: each deleted as a memory is deleted "
                 "(gone from every search, its vector and keyword entry removed), then the app's rows with their "
                 "history and access log" for app in apps]
        return lines, {"apps": len(apps), "memories": sum(live.values())}, set(), []

    def delete_model(self, request, obj):
        memory_services.memories_delete_with_app(app=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for app in queryset.select_related("owner"):
            memory_services.memories_delete_with_app(app=app, actor=request.user)

    @admin.action(description="Pause selected apps (they can neither read nor write)")
    def pause(self, request, queryset):
        self._set_active(request, queryset, False)

    @admin.action(description="Resume selected apps")
    def resume(self, request, queryset):
        self._set_active(request, queryset, True)


@admin.register(AccessControl)
class AccessControlAdmin(admin.ModelAdmin):
    list_display = ["app", "effect", "memory", "created_at"]
    list_filter = ["effect"]
    list_select_related = ["app", "memory"]
    raw_id_fields = ["memory"]


@admin.register(ArchivePolicy)
class ArchivePolicyAdmin(admin.ModelAdmin):
    list_display = ["owner", "criteria_type", "app", "category", "days_to_archive", "created_at"]
    list_filter = ["criteria_type"]
    list_select_related = ["owner", "app", "category"]
