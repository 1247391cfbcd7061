from django.urls import path

from vehicles.api.views import VehicleDetailApi, VehicleListApi

urlpatterns = [
    path("vehicles/", VehicleListApi.as_view(), name="vehicle-list"),
    path("vehicles/<int:vehicle_id>/", VehicleDetailApi.as_view(), name="vehicle-detail"),
]
