from django.contrib import admin, messages
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect

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
    # Anyone may sign in here: a user who is not staff is then sent to their own pages with a sentence, rather
    # than told their right password is wrong.
    login_form = AuthenticationForm

    def index(self, request, extra_context=None):
        check_now = request.method == "POST" and "check_store" in request.POST and request.user.is_staff
        return super().index(request, {**(extra_context or {}), "health": system_health(check_store_now=check_now)})

    def login(self, request, extra_context=None):
        if request.user.is_authenticated and not request.user.is_staff:
            messages.info(request, "The admin console is for staff. Your own memories, apps and tokens are here.")
            return redirect("dashboard:home")
        return super().login(request, extra_context)
