from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

GOOD_PASSWORD = "velvet-gearbox-1987"


def account_section(*, request):
    return f"<section id='cash'>Cash for {request.user.username}</section>"


def signup_data(**overrides):
    return {
        "username": "alice",
        "display_name": "Alice",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
        **overrides,
    }


@pytest.mark.django_db
def test_signup_page_has_a_label_for_every_control_and_csrf(client):
    response = client.get(reverse("accounts:signup"))

    assert response.status_code == 200
    html = response.content.decode()
    for field in ("username", "display_name", "password1", "password2"):
        assert f'<label for="id_{field}"' in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.django_db
def test_signup_creates_the_user_logs_in_and_goes_home(client):
    response = client.post(reverse("accounts:signup"), signup_data())

    assert response.status_code == 302
    assert response.url == reverse("home")
    user = User.objects.get(username="alice")
    assert user.display_name == "Alice"
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_signup_shows_weak_password_message_next_to_the_password(client):
    response = client.post(
        reverse("accounts:signup"), signup_data(password1="password", password2="password")
    )

    assert response.status_code == 200
    assert response.context["form"].errors["password1"] == ["This password is too common."]
    assert not User.objects.filter(username="alice").exists()


@pytest.mark.django_db
def test_signup_shows_taken_username_next_to_the_username(client):
    UserFactory(username="alice")

    response = client.post(reverse("accounts:signup"), signup_data(username="ALICE"))

    assert response.context["form"].errors["username"] == [
        "A user with that username already exists."
    ]


@pytest.mark.django_db
def test_signup_refuses_two_different_passwords(client):
    response = client.post(reverse("accounts:signup"), signup_data(password2="something-else-9"))

    assert response.context["form"].errors["password2"] == ["The two passwords differ."]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_login_page_has_labels_and_csrf(client):
    response = client.get(reverse("accounts:login"))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username"' in html
    assert '<label for="id_password"' in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.django_db
def test_login_with_good_credentials_goes_home(client):
    user = UserFactory()

    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_login_with_a_wrong_password_says_so(client):
    user = UserFactory()

    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": "nope-nope-nope"}
    )

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_logout_is_a_post_that_ends_the_session(client):
    client.force_login(UserFactory())

    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_account_page_sends_anonymous_visitors_to_login(client):
    response = client.get(reverse("accounts:me"))

    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={reverse('accounts:me')}"


@pytest.mark.django_db
def test_account_page_shows_username_and_display_name(client):
    client.force_login(UserFactory(username="bob", display_name="Bobby"))

    response = client.get(reverse("accounts:me"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "bob" in html
    assert "Bobby" in html
    assert '<label for="id_display_name"' in html


@pytest.mark.django_db
def test_account_page_saves_a_new_display_name(client):
    user = UserFactory(display_name="Old")
    client.force_login(user)

    response = client.post(reverse("accounts:me"), {"display_name": "Speedy"})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.display_name == "Speedy"


@pytest.mark.django_db
def test_account_page_shows_sections_other_apps_plug_in(client):
    client.force_login(UserFactory(username="carol"))

    with override_settings(ACCOUNTS_PAGE_SECTIONS=[f"{__name__}.account_section"]):
        response = client.get(reverse("accounts:me"))

    assert "<section id='cash'>Cash for carol</section>" in response.content.decode()


@pytest.mark.django_db
def test_layout_offers_skip_link_nav_and_logout_form_to_a_logged_in_user(client):
    client.force_login(UserFactory())

    html = client.get(reverse("accounts:me")).content.decode()

    assert 'href="#main"' in html
    assert f'href="{reverse("vehicles:list")}"' in html
    assert f'action="{reverse("accounts:logout")}"' in html
    assert 'href="/static/css/site.css"' in html


@pytest.mark.django_db
def test_layout_offers_login_and_signup_to_visitors(client):
    html = client.get(reverse("accounts:login")).content.decode()

    assert f'href="{reverse("accounts:signup")}"' in html
    assert f'action="{reverse("accounts:logout")}"' not in html
