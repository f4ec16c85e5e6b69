"""mem0's platform API (memories.mem0_views), mounted at /mem0/: `MemoryClient(host="http://<server>/mem0")`; and
mem0's self-hosted server's shape, mounted at /mem0-server/ (server_urlpatterns)."""
from django.urls import path, re_path

from memories import mem0_views as views

urlpatterns = [
    path("v1/ping/", views.Ping.as_view(), name="mem0-ping"),
    path("v3/memories/add/", views.Add.as_view(), name="mem0-add"),
    path("v3/memories/search/", views.Search.as_view(), name="mem0-search"),
    path("v3/memories/", views.GetAll.as_view(), name="mem0-get-all"),
    path("v1/memories/", views.DeleteAll.as_view(), name="mem0-delete-all"),
    path("v1/memories/<str:memory_id>/", views.Detail.as_view(), name="mem0-memory"),
    path("v1/memories/<str:memory_id>/history/", views.History.as_view(), name="mem0-history"),
    path("v1/entities/", views.Entities.as_view(), name="mem0-entities"),
    path("v2/entities/<str:kind>/<str:name>/", views.EntityDelete.as_view(), name="mem0-entity"),
    path("v1/batch/", views.Batch.as_view(), name="mem0-batch"),
    path("v1/exports/", views.Exports.as_view(), name="mem0-exports"),
    path("v1/exports/get/", views.ExportGet.as_view(), name="mem0-export-get"),
    path("v1/feedback/", views.Feedback.as_view(), name="mem0-feedback"),
    re_path(r"^(?:v1/summary|v2/profiles|v2/entities/user/[^/]+/profile|api/v1)/", views.not_served,
            name="mem0-not-served"),
]

server_urlpatterns = [
    path("memories", views.ServerMemories.as_view(), name="mem0-server-memories"),
    path("memories/<str:memory_id>", views.ServerMemory.as_view(), name="mem0-server-memory"),
    path("memories/<str:memory_id>/history", views.ServerHistory.as_view(), name="mem0-server-history"),
    path("search", views.ServerSearch.as_view(), name="mem0-server-search"),
]
