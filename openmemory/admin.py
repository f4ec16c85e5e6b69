from django import forms
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


class ApiTokenAddForm(forms.ModelForm):
    act_as_any = forms.BooleanField(required=False, label="May act as any user",
                                    help_text="Only for an admin's script that names the user it acts for.")

    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "act_as_any", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["act_as_any", "revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "prefix", "act_as_any", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        return super().get_form(request, obj, **kwargs) if obj else ApiTokenAddForm

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["user", "name", "act_as_any"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def save_model(self, request, obj, form, change):
        """A new token through the service: its key is shown once, here, and never stored."""
        token, key = token_create(user=obj.user, name=obj.name, act_as_any=form.cleaned_data["act_as_any"])
        obj.pk = token.pk
        self.message_user(request, f"New token for {obj.user.username} (shown once): {key}", messages.WARNING)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            token_revoke(token=token)
        self.message_user(request, f"{queryset.count()} tokens revoked.", messages.SUCCESS)
