from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import HealthApi

# Unknown addresses under /api/ answer in JSON like every other API error.
handler404 = "config.api.not_found"

urlpatterns = [
    path("", include("market.urls")),
    path("accounts/", include("accounts.urls")),
    path("vehicles/", include("vehicles.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/health/", HealthApi.as_view(), name="api-health"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Uploaded photos: served by Django here; a real deployment puts them behind the web server.
    path(
        f"{settings.MEDIA_URL.strip('/')}/<path:path>",
        serve,
        {"document_root": settings.MEDIA_ROOT},
    ),
]
