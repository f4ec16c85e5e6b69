from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from oauth2_provider import urls as oauth_urls
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from memories import mem0_urls
from openmemory import views
from openmemory.oauth import ClientConfiguration, ClientRegistration, ConsentView

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("dashboard/", include("openmemory.dashboard.urls")),  # every signed-in user's own pages
    path("api/v1/me", views.Me.as_view(), name="me"),
    path("api/v1/", include("openmemory.api_urls")),
    path("mem0/", include("memories.mem0_urls")),  # mem0's platform API, for its SDK and what is built on it
    path("mem0-server/", include((mem0_urls.server_urlpatterns, "mem0-server"))),  # mem0's self-hosted server's
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger"),
    # OAuth 2.1 for MCP clients: metadata at the root (RFC 8414, RFC 9728), the endpoints under /o/.
    path("", include((oauth_urls.metadata_urlpatterns, "oauth2_provider_metadata"))),
    path("o/register/", ClientRegistration.as_view(), name="dcr-register"),
    path("o/register/<str:client_id>/", ClientConfiguration.as_view(), name="dcr-register-management"),
    path("o/authorize/", ConsentView.as_view(), name="authorize"),
    path("o/", include("oauth2_provider.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="openmemory/redoc.html"), name="redoc"),
]

handler400 = "openmemory.views.bad_request"
handler404 = "openmemory.views.not_found"
handler500 = "openmemory.views.server_error"
