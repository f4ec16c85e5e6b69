from django.apps import AppConfig


class OpenMemoryConfig(AppConfig):
    name = "openmemory"
    verbose_name = "Access"
    default_auto_field = "django.db.models.BigAutoField"
