from django.contrib import admin, messages
from django.db.models import Count

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
    readonly_fields = ["is_active", "created_at", "updated_at"]
    actions = ["pause", "resume"]

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
