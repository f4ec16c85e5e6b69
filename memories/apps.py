from django.apps import AppConfig


class MemoriesConfig(AppConfig):
    name = "memories"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created

        from memories.fields import configure_connection

        connection_created.connect(configure_connection, dispatch_uid="openmemory-vector-connection")
