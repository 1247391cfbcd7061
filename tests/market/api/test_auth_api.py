"""Who may call what: private endpoints answer 401 to anonymous clients, market data is public."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient, APIRequestFactory

from accounts.authentication import TokenAuthentication

pytestmark = pytest.mark.django_db

PRIVATE = [
    ("get", "/api/v1/account/"),
    ("get", "/api/v1/account/ledger/"),
    ("get", "/api/v1/portfolio/"),
    ("get", "/api/v1/orders/"),
    ("get", "/api/v1/orders/?status=open"),
    ("post", "/api/v1/orders/"),
    ("get", "/api/v1/orders/1/"),
    ("delete", "/api/v1/orders/1/"),
    ("post", "/api/v1/vehicles/1/list/"),
]


@pytest.mark.parametrize(("method", "path"), PRIVATE)
def test_anonymous_request_to_a_private_endpoint_is_unauthenticated(method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(("method", "path"), PRIVATE)
def test_wrong_token_is_unauthenticated(method, path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = getattr(client, method)(path, {}, format="json")

    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")


def test_a_token_of_an_inactive_user_is_refused(make_trader):
    trader = make_trader(name="erin")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=trader).key}")
    trader.is_active = False
    trader.save(update_fields=["is_active"])

    response = client.get("/api/v1/account/")

    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")
    assert response.json()["detail"] == "User inactive or deleted."


def test_a_token_authenticates_its_user_in_one_query(make_trader, django_assert_num_queries):
    trader = make_trader(name="fay")
    token = Token.objects.create(user=trader)
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {token.key}")

    with django_assert_num_queries(1):
        user, auth = TokenAuthentication().authenticate(request)

    assert (user.pk, user.username, auth.key, auth.created) == (
        trader.pk,
        trader.username,
        token.key,
        token.created,
    )


@pytest.mark.parametrize(
    "suffix", ["", "book/", "trades/", "bars/", "auctions/"], ids=lambda s: s or "ticker"
)
def test_market_data_is_public(make_instrument, suffix):
    instrument = make_instrument()

    response = APIClient().get(f"/api/v1/instruments/{instrument.symbol}/{suffix}")

    assert response.status_code == 200


def test_token_from_the_auth_endpoint_opens_the_account(make_trader):
    make_trader(name="alice")
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "x-Pass-1234"}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = client.get("/api/v1/account/")

    assert (response.status_code, response.json()["cash_balance"]) == (200, "10000.00")


def test_schema_documents_every_market_endpoint():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    assert {
        "/api/v1/account/": {"get"},
        "/api/v1/account/ledger/": {"get"},
        "/api/v1/portfolio/": {"get"},
        "/api/v1/vehicles/{vehicle_id}/list/": {"post"},
        "/api/v1/instruments/": {"get"},
        "/api/v1/instruments/{symbol}/": {"get"},
        "/api/v1/instruments/{symbol}/book/": {"get"},
        "/api/v1/instruments/{symbol}/trades/": {"get"},
        "/api/v1/instruments/{symbol}/bars/": {"get"},
        "/api/v1/instruments/{symbol}/auctions/": {"get"},
        "/api/v1/orders/": {"get", "post"},
        "/api/v1/orders/{order_id}/": {"get", "delete"},
    }.items() <= {
        path: set(operations) - {"parameters"} for path, operations in paths.items()
    }.items()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/account/",
        "/api/v1/account/ledger/",
        "/api/v1/portfolio/",
        "/api/v1/orders/",
        "/api/v1/instruments/",
        "/api/v1/instruments/{symbol}/",
        "/api/v1/instruments/{symbol}/book/",
        "/api/v1/instruments/{symbol}/auctions/",
    ],
)
def test_browsable_api_pages_render_for_a_signed_in_user(make_instrument, client, path):
    instrument = make_instrument()
    client.force_login(instrument.vehicle.owner)

    response = client.get(path.format(symbol=instrument.symbol), HTTP_ACCEPT="text/html")

    assert (response.status_code, response["Content-Type"]) == (200, "text/html; charset=utf-8")
