from django.urls import re_path

from openmemory.api import UUID_PATTERN as UUID

from apps_registry import views

APP = rf"(?P<app_id>{UUID})"

urlpatterns = [
    re_path(r"^apps/?$", views.AppCollection.as_view(), name="apps"),
    re_path(rf"^apps/{APP}/?$", views.AppDetail.as_view(), name="app"),
    re_path(rf"^apps/{APP}/memories/?$", views.AppMemories.as_view(), name="app-memories"),
    re_path(rf"^apps/{APP}/accessed/?$", views.AppAccessed.as_view(), name="app-accessed"),
    re_path(rf"^apps/{APP}/access/?$", views.AccessRules.as_view(), name="app-access"),
    re_path(rf"^apps/{APP}/access/(?P<rule_id>{UUID})/?$", views.AccessRuleDetail.as_view(),
            name="app-access-rule"),
    re_path(r"^archive-policies/?$", views.ArchivePolicies.as_view(), name="archive-policies"),
    re_path(rf"^archive-policies/(?P<policy_id>{UUID})/?$", views.ArchivePolicyDetail.as_view(),
            name="archive-policy"),
]
