"""Every REST endpoint under /api/v1/, one include per app."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("vehicles.api.urls")),
    path("", include("market.api.urls")),
]
