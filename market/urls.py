from django.urls import path

from market import views

urlpatterns = [
    path("", views.home, name="home"),
]
