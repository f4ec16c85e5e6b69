from django.contrib import admin

from stats.selectors import system_health


class OpenMemoryAdminSite(admin.AdminSite):
    """Django's admin, whose home also shows the system's health (stats.selectors.system_health)."""

    site_header = "OpenMemory console"
    site_title = "OpenMemory"
    index_title = "Memories, apps and access"
    site_url = "/"  # "View site": the landing page
    index_template = "admin/openmemory_index.html"
    # The breadcrumbs lead home: the sidebar's 280 px go to the memory list's columns (readable at 1024 px).
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        check_now = request.method == "POST" and "check_store" in request.POST and request.user.is_staff
        return super().index(request, {**(extra_context or {}), "health": system_health(check_store_now=check_now)})
