from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from openmemory import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/me", views.Me.as_view(), name="me"),
    path("api/v1/", include("openmemory.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="openmemory/redoc.html"), name="redoc"),
]

handler400 = "openmemory.views.bad_request"
handler404 = "openmemory.views.not_found"
handler500 = "openmemory.views.server_error"
