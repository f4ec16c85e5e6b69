from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from openmemory.models import ApiToken
from openmemory.services import token_create, token_revoke

User = get_user_model()


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    extra = 0
    fields = ["name", "prefix", "act_as_any", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # keys are made by the "Create a token" action, which shows the key once


admin.site.unregister(User)


@admin.register(User)
class OpenMemoryUserAdmin(UserAdmin):
    inlines = [ApiTokenInline]
    actions = ["create_token"]

    @admin.action(description="Create an API token for each selected user")
    def create_token(self, request, queryset):
        for user in queryset:
            _, key = token_create(user=user, name="admin")
            self.message_user(request, f"New token for {user.username} (shown once): {key}", messages.WARNING)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "act_as_any", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["act_as_any", "revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "prefix", "act_as_any", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            token_revoke(token=token)
        self.message_user(request, f"{queryset.count()} tokens revoked.", messages.SUCCESS)
