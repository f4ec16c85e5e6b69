from django.apps import AppConfig


class MemoriesConfig(AppConfig):
    name = "memories"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from memories.fields import configure_connection
        from memories.engine.keywords import keywords_prune, keywords_vocabulary

        connection_created.connect(configure_connection, dispatch_uid="openmemory-vector-connection")
        connection_created.connect(keywords_vocabulary, dispatch_uid="openmemory-keywords-vocabulary")
        post_migrate.connect(keywords_prune, sender=self, dispatch_uid="openmemory-keywords-prune")
