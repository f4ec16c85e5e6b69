from django.urls import include, re_path

from memories import backup_views, config_views

config = [
    re_path(r"^config/?$", config_views.ConfigView.as_view(), name="config"),
    re_path(r"^config/reset/?$", config_views.ConfigReset.as_view(), name="config-reset"),
    re_path(r"^config/mem0/llm/?$", config_views.LlmView.as_view(), name="config-llm"),
    re_path(r"^config/mem0/embedder/?$", config_views.EmbedderView.as_view(), name="config-embedder"),
    re_path(r"^config/mem0/vector_store/?$", config_views.VectorStoreView.as_view(), name="config-vector-store"),
    re_path(r"^config/openmemory/?$", config_views.OpenMemoryView.as_view(), name="config-openmemory"),
]
backup = [
    re_path(r"^backup/export/?$", backup_views.ExportView.as_view(), name="backup-export"),
    re_path(r"^backup/import/?$", backup_views.ImportView.as_view(), name="backup-import"),
]

urlpatterns = [
    re_path(r"", include("memories.urls")),
    re_path(r"", include("apps_registry.urls")),
    re_path(r"", include("stats.urls")),
    *config,
    *backup,
]
