from django.urls import re_path

from openmemory.api import UUID_PATTERN as UUID

from memories import views

# OpenMemory's clients call these with and without the trailing slash.
MEMORY = rf"(?P<memory_id>{UUID})"

urlpatterns = [
    re_path(r"^memories/?$", views.MemoryCollection.as_view(), name="memories"),
    re_path(r"^memories/categories/?$", views.MemoryCategories.as_view(), name="memory-categories"),
    re_path(r"^memories/filter/?$", views.MemoryFilter.as_view(), name="memory-filter"),
    re_path(r"^memories/search/?$", views.MemorySearch.as_view(), name="memory-search"),
    re_path(r"^memories/actions/archive/?$", views.MemoryArchive.as_view(), name="memory-archive"),
    re_path(r"^memories/actions/pause/?$", views.MemoryPause.as_view(), name="memory-pause"),
    re_path(rf"^memories/{MEMORY}/?$", views.MemoryDetail.as_view(), name="memory"),
    re_path(rf"^memories/{MEMORY}/access-log/?$", views.MemoryAccessLog.as_view(), name="memory-access-log"),
    re_path(rf"^memories/{MEMORY}/related/?$", views.MemoryRelated.as_view(), name="memory-related"),
    re_path(rf"^memories/{MEMORY}/history/?$", views.MemoryHistory.as_view(), name="memory-history"),
]
