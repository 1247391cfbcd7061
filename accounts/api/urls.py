from django.urls import path

from accounts.api.views import AuthTokenApi, UserRegisterApi

urlpatterns = [
    path("auth/register/", UserRegisterApi.as_view(), name="auth-register"),
    path("auth/token/", AuthTokenApi.as_view(), name="auth-token"),
]
