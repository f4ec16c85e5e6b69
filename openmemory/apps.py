from django.apps import AppConfig


class OpenMemoryConfig(AppConfig):
    name = "openmemory"
    verbose_name = "Access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        import logging

        from django.conf import settings

        if settings.OPENMEMORY_LOCAL_NO_AUTH:
            logging.getLogger("openmemory").warning(
                "OPENMEMORY_LOCAL_NO_AUTH is on: requests from 127.0.0.1 without a token act as any user_id they "
                "name. Anyone who can reach this machine's loopback can read and change every memory.")
