from django.urls import path

from openmemory.dashboard import account_pages, app_pages, backup_pages, connect_pages, home, memory_pages

app_name = "dashboard"
urlpatterns = [
    path("", home.home, name="home"),
    path("memories/", memory_pages.memories, name="memories"),
    path("memories/<uuid:memory_id>/", memory_pages.memory, name="memory"),
    path("apps/", app_pages.apps, name="apps"),
    path("apps/<uuid:app_id>/", app_pages.app, name="app"),
    path("connect/", connect_pages.connect, name="connect"),
    path("backup/", backup_pages.backup, name="backup"),
    path("settings/", account_pages.settings_page, name="settings"),
    path("account/", account_pages.account, name="account"),
]
