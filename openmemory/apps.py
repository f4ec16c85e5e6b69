from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OpenMemoryAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the system's health on its home (openmemory/admin_site.py, imported once the models
    are: its home reads them)."""

    default = False  # named in INSTALLED_APPS; "openmemory" itself is OpenMemoryConfig
    default_site = "openmemory.admin_site.OpenMemoryAdminSite"


class OpenMemoryConfig(AppConfig):
    name = "openmemory"
    verbose_name = "Access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        import logging
        import os

        from django.conf import settings

        if settings.OPENMEMORY_LOCAL_NO_AUTH:
            logging.getLogger("openmemory").warning(
                "OPENMEMORY_LOCAL_NO_AUTH is on: requests from 127.0.0.1 without a token act as any user_id they "
                "name. Anyone who can reach this machine's loopback can read and change every memory.")
        workers = os.environ.get("WEB_CONCURRENCY", "")
        if workers.isdigit() and int(workers) > 1 and not settings.REDIS_URL:
            # uvicorn reads WEB_CONCURRENCY for its number of workers (the Procfile passes it on).
            logging.getLogger("openmemory").warning(
                "WEB_CONCURRENCY is %s but REDIS_URL is not set: an SSE session's messages that reach a web process "
                "other than its stream's are refused. Set REDIS_URL (mcp_bridge.relay) or run one web process.",
                os.environ["WEB_CONCURRENCY"])
