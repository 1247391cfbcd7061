from django.urls import path

from vehicles import views

app_name = "vehicles"
urlpatterns = [
    path("", views.vehicle_list_page, name="list"),
    path("new/", views.vehicle_create_page, name="create"),
    path("<int:vehicle_id>/", views.vehicle_detail_page, name="detail"),
    path("<int:vehicle_id>/edit/", views.vehicle_edit_page, name="edit"),
    path("<int:vehicle_id>/placeholder.svg", views.vehicle_placeholder, name="placeholder"),
    path("<int:vehicle_id>/photos/", views.vehicle_photo_add_page, name="photo_add"),
    path(
        "<int:vehicle_id>/photos/<int:photo_id>/delete/",
        views.vehicle_photo_remove_page,
        name="photo_remove",
    ),
    path("<int:vehicle_id>/specs/", views.vehicle_spec_add_page, name="spec_add"),
    path(
        "<int:vehicle_id>/specs/<int:spec_id>/delete/",
        views.vehicle_spec_remove_page,
        name="spec_remove",
    ),
    path("<int:vehicle_id>/events/", views.vehicle_event_add_page, name="event_add"),
    path(
        "<int:vehicle_id>/events/<int:event_id>/delete/",
        views.vehicle_event_remove_page,
        name="event_remove",
    ),
]
