"""Pages: sign up, log in, log out, the account page."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.errors import FieldErrors, UsernameTaken
from accounts.forms import DisplayNameForm, SignUpForm, form_add_domain_error
from accounts.hooks import sections_render
from accounts.models import User
from accounts.services import user_register, user_update
from accounts.throttles import AuthRateThrottle
from config.throttling import throttle_wait

SIGNUP_FIELD_MAP = {"password": "password1"}


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        wait = throttle_wait(AuthRateThrottle(), request)
        if wait is not None:
            form = SignUpForm(initial={"username": request.POST.get("username", "")})
            return _too_many_attempts(request, "registration/signup.html", {"form": form}, wait)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_register(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                display_name=form.cleaned_data["display_name"],
            )
        except (FieldErrors, UsernameTaken) as error:
            form_add_domain_error(form, error, field_map=SIGNUP_FIELD_MAP)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.public_name}! Your account is ready.")
            return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


class AccountLoginView(LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttle_wait(AuthRateThrottle(), request)
        if wait is not None:
            form = AuthenticationForm(
                request, initial={"username": request.POST.get("username", "")}
            )
            context = self.get_context_data(form=form)
            return _too_many_attempts(request, self.template_name, context, wait)
        return super().post(request, *args, **kwargs)


def _too_many_attempts(
    request: HttpRequest, template_name: str, context: dict[str, Any], wait: int
) -> HttpResponse:
    """429 with Retry-After: the form again, empty, and why nothing was tried."""
    messages.error(request, f"Too many attempts from your address. Try again in {wait} seconds.")
    response = render(request, template_name, context, status=429)
    response["Retry-After"] = str(wait)
    return response


class AccountLogoutView(LogoutView):
    """POST only (Django refuses GET): the header's log-out button is a form."""


@login_required
@require_http_methods(["GET", "POST"])
def me(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    form = DisplayNameForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        try:
            user_update(user=user, display_name=form.cleaned_data["display_name"])
        except FieldErrors as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, "Your display name is saved.")
            return redirect("accounts:me")
    context = {
        "form": form,
        "account_sections": sections_render("ACCOUNTS_PAGE_SECTIONS", request=request),
    }
    return render(request, "accounts/me.html", context)
