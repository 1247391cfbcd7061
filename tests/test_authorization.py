"""Who may use which URL: every URL pattern the site serves has an entry in `ACCESS`, and each
entry is exercised.

`test_every_url_pattern_has_an_access_rule` walks the URL resolver (and the WebSocket routes):
a new endpoint without an entry fails the suite, naming it. Then, per entry and method:

- `PUBLIC`: anyone, for the reason given; an anonymous request is served (not refused).
- `SIGNED_IN`: anonymous is refused (API: 401 `not_authenticated`; pages: redirected to the
  log-in page); signed in, it shows only the caller's own rows (no other user's ledger memo or
  client order id anywhere in the answer).
- `owner(status)`: as SIGNED_IN, and another user's object answers `status` (404 where the
  object's existence is private, 403 where it is public, as a vehicle is) and changes nothing.

Everything under `admin/` is Django's admin (staff only, checked by `admin_view`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from market.models import Instrument, Notification, Order, OrderStatus
from market.routing import websocket_urlpatterns
from market.services.ledger import cash_account_open, cash_deposit
from market.services.listings import instrument_list
from market.services.orders import order_place
from tests.factories import (
    UserFactory,
    VehicleEventFactory,
    VehicleFactory,
    VehiclePhotoFactory,
    VehicleSpecFactory,
)
from vehicles.models import Vehicle, VehicleEvent, VehiclePhoto, VehicleSpec

ROOT = Path(__file__).resolve().parent.parent
NEW_YORK = ZoneInfo("America/New_York")
# What only the owner may see: text that cannot occur by chance in another answer.
OWNER_MEMO = "owner-only-memo-zq"
OWNER_CLIENT_ORDER_ID = "owner-only-coid-zq"
ADMIN_PREFIX = "admin/"


@dataclass(frozen=True)
class Rule:
    kind: str  # "public", "signed_in" or "owner"
    why: str = ""  # public: why anyone may use it
    others: int | None = None  # owner: the answer to somebody else


SIGNED_IN = Rule("signed_in")


def public(why: str) -> Rule:
    return Rule("public", why=why)


def owner(others: int) -> Rule:
    return Rule("owner", others=others)


MARKET_DATA = public("market data is public (MARKET_RULES 9, 10)")
CATALOGUE = public("the vehicle catalogue is public")

# Route pattern -> {method: rule}. HEAD and OPTIONS follow GET and are not listed.
ACCESS: dict[str, dict[str, Rule]] = {
    # --- the API ---
    "api/v1/health/": {"GET": public("liveness probe for load balancers")},
    "api/v1/auth/register/": {"POST": public("signing up; throttled per address")},
    "api/v1/auth/token/": {"POST": public("logging in; throttled per address")},
    "api/v1/vehicles/": {"GET": CATALOGUE, "POST": SIGNED_IN},
    "api/v1/vehicles/<int:vehicle_id>/": {"GET": CATALOGUE, "PATCH": owner(403)},
    "api/v1/vehicles/<int:vehicle_id>/list/": {"POST": owner(403)},
    "api/v1/account/": {"GET": SIGNED_IN},
    "api/v1/account/ledger/": {"GET": SIGNED_IN},
    "api/v1/portfolio/": {"GET": SIGNED_IN},
    "api/v1/instruments/": {"GET": MARKET_DATA},
    "api/v1/instruments/<str:symbol>/": {"GET": MARKET_DATA},
    "api/v1/instruments/<str:symbol>/book/": {"GET": MARKET_DATA},
    "api/v1/instruments/<str:symbol>/trades/": {"GET": MARKET_DATA},
    "api/v1/instruments/<str:symbol>/bars/": {"GET": MARKET_DATA},
    "api/v1/instruments/<str:symbol>/auctions/": {"GET": MARKET_DATA},
    "api/v1/orders/": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "api/v1/orders/<int:order_id>/": {"GET": owner(404), "DELETE": owner(404)},
    "api/v1/notifications/": {"GET": SIGNED_IN},
    "api/v1/leaderboard/": {"GET": SIGNED_IN},
    "api/schema/": {"GET": public("the API's OpenAPI description")},
    "api/docs/": {"GET": public("the API's browsable documentation")},
    # --- pages ---
    "": {"GET": MARKET_DATA},
    "market/clock/": {"GET": public("the market's phase and next transition")},
    "market/<str:symbol>/": {"GET": MARKET_DATA},
    "market/<str:symbol>/order/": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "market/<str:symbol>/holdings/": {"GET": SIGNED_IN},
    "orders/": {"GET": SIGNED_IN},
    # Another user's order: "No such order." and back to the orders page, the order untouched.
    "orders/<int:order_id>/cancel/": {"POST": owner(302)},
    "portfolio/": {"GET": SIGNED_IN},
    "ledger/": {"GET": SIGNED_IN},
    "leaderboard/": {"GET": public("display names and P&L only; your own row when signed in")},
    "vehicles/<int:vehicle_id>/start-trading/": {"GET": owner(403), "POST": owner(403)},
    "accounts/signup/": {"GET": public("signing up"), "POST": public("signing up; throttled")},
    "accounts/login/": {"GET": public("logging in"), "POST": public("logging in; throttled")},
    "accounts/logout/": {"POST": public("logging out is harmless for anyone")},
    "accounts/me/": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "vehicles/": {"GET": CATALOGUE},
    "vehicles/new/": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "vehicles/<int:vehicle_id>/": {"GET": CATALOGUE},
    "vehicles/<int:vehicle_id>/edit/": {"GET": owner(403), "POST": owner(403)},
    "vehicles/<int:vehicle_id>/placeholder.svg": {"GET": CATALOGUE},
    "vehicles/<int:vehicle_id>/photos/": {"POST": owner(403)},
    "vehicles/<int:vehicle_id>/photos/<int:photo_id>/delete/": {"POST": owner(403)},
    "vehicles/<int:vehicle_id>/specs/": {"POST": owner(403)},
    "vehicles/<int:vehicle_id>/specs/<int:spec_id>/delete/": {"POST": owner(403)},
    "vehicles/<int:vehicle_id>/events/": {"POST": owner(403)},
    "vehicles/<int:vehicle_id>/events/<int:event_id>/delete/": {"POST": owner(403)},
    "media/<path:path>": {"GET": public("uploaded vehicle photos, shown on public pages")},
}

# WebSocket routes (market/routing.py): exercised by the tests named, which must exist.
STREAMS = "tests/market/realtime/test_streams.py"
WEBSOCKET_ACCESS: dict[str, tuple[Rule, list[str]]] = {
    "ws/instruments/<str:symbol>/": (MARKET_DATA, []),
    "ws/me/": (
        SIGNED_IN,
        [
            f"{STREAMS}::test_an_anonymous_private_stream_is_closed_with_4401",
            f"{STREAMS}::test_after_log_out_the_private_stream_closes",
            f"{STREAMS}::test_token_authenticates_the_private_stream",
            f"{STREAMS}::test_two_users_receive_only_their_own_private_messages",
        ],
    ),
}

# What a request sends, where a missing check would let it change something.
PAYLOADS: dict[tuple[str, str], dict[str, Any]] = {
    ("api/v1/vehicles/<int:vehicle_id>/", "PATCH"): {"colour": "Stolen Black"},
    ("api/v1/vehicles/<int:vehicle_id>/list/", "POST"): {"symbol": "STOLEN"},
    ("vehicles/<int:vehicle_id>/start-trading/", "POST"): {
        "symbol": "STOLEN",
        "total_shares": 100,
        "listing_price": "10.00",
    },
    ("vehicles/<int:vehicle_id>/edit/", "POST"): {
        "make": "Stolen",
        "model": "911",
        "year": 1989,
        "vin": "",
        "colour": "Stolen Black",
    },
    ("vehicles/<int:vehicle_id>/specs/", "POST"): {"name": "Stolen", "value": "yes"},
    ("vehicles/<int:vehicle_id>/events/", "POST"): {"date": "2000-01-01", "title": "Stolen"},
    ("orders/<int:order_id>/cancel/", "POST"): {},
}


# --- the URL patterns ---------------------------------------------------------------------------


def url_routes() -> list[tuple[str, Any]]:
    """Every URL pattern as its full route and view, admin's excepted."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    return [
        (route, view)
        for route, view in walk(get_resolver().url_patterns, "")
        if not route.startswith(ADMIN_PREFIX)
    ]


def api_methods(view: Any) -> set[str]:
    """The methods a DRF view implements (None for a plain Django view)."""
    cls = getattr(view, "cls", None)
    if cls is None:
        return set()
    return {
        method.upper()
        for method in ("get", "post", "put", "patch", "delete")
        if hasattr(cls, method)
    }


def test_every_url_pattern_has_an_access_rule():
    routes = dict(url_routes())

    missing = sorted(route for route in routes if route not in ACCESS)
    stale = sorted(route for route in ACCESS if route not in routes)

    assert missing == [], (
        f"URL patterns with no entry in ACCESS (tests/test_authorization.py): {missing}. "
        "Say who may use each method: public (and why), SIGNED_IN or owner(404 or 403)."
    )
    assert stale == [], f"ACCESS names URL patterns that no longer exist: {stale}"


def test_every_method_of_every_api_view_has_an_access_rule():
    unlisted = {
        route: sorted(api_methods(view) - set(ACCESS.get(route, {})))
        for route, view in url_routes()
        if api_methods(view) - set(ACCESS.get(route, {}))
    }

    assert unlisted == {}, f"API methods with no entry in ACCESS: {unlisted}"


def test_every_websocket_route_has_an_access_rule_and_its_tests_exist():
    routes = {str(pattern.pattern) for pattern in websocket_urlpatterns}

    assert routes == set(WEBSOCKET_ACCESS), "every WebSocket route needs an entry"
    for rule, tests in WEBSOCKET_ACCESS.values():
        assert rule.kind == "public" or tests, "a private stream names the tests that check it"
        for test in tests:
            path, name = test.split("::")
            assert re.search(rf"^(async )?def {name}\(", (ROOT / path).read_text(), re.M), test


def cases(*kinds: str) -> list[Any]:
    return [
        pytest.param(route, method, rule, id=f"{method} /{route}")
        for route, methods in ACCESS.items()
        for method, rule in methods.items()
        if rule.kind in kinds
    ]


# --- the world the requests are made in ---------------------------------------------------------


@dataclass
class World:
    owner: User
    intruder: User
    instrument: Instrument
    vehicle: Vehicle  # the owner's, not listed yet
    order: Order  # the owner's, open
    photo: VehiclePhoto
    spec: VehicleSpec
    event: VehicleEvent

    def url(self, route: str) -> str:
        values = {
            "vehicle_id": self.vehicle.pk,
            "order_id": self.order.pk,
            "symbol": self.instrument.symbol,
            "photo_id": self.photo.pk,
            "spec_id": self.spec.pk,
            "event_id": self.event.pk,
            "path": self.photo.image.name,
        }
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: str(values[match[1]]), route)

    def state(self) -> dict[str, Any]:
        """What a refused request must leave as it was."""
        return {
            "order": Order.objects.get(pk=self.order.pk).status,
            "vehicle": Vehicle.objects.filter(pk=self.vehicle.pk).values().get(),
            "listed": Instrument.objects.filter(vehicle=self.vehicle).exists(),
            "photos": list(VehiclePhoto.objects.values_list("pk", flat=True)),
            "specs": list(VehicleSpec.objects.values_list("pk", "name")),
            "events": list(VehicleEvent.objects.values_list("pk", "title")),
        }


@pytest.fixture
def world(db, settings, tmp_path) -> Iterator[World]:
    settings.MARKET_DEMO_MODE = False
    settings.MEDIA_ROOT = tmp_path / "media"
    with time_machine.travel(datetime(2026, 11, 18, 9, 0, tzinfo=NEW_YORK), tick=False):
        owner_user, intruder = UserFactory(), UserFactory()
        for user in (owner_user, intruder):
            cash_account_open(user=user)
        cash_deposit(user_id=owner_user.pk, amount="7731.00", memo=OWNER_MEMO)
        cash_deposit(user_id=intruder.pk, amount="10.00")
        instrument = instrument_list(
            user_id=owner_user.pk,
            vehicle=VehicleFactory(owner=owner_user),
            symbol="AUTHZ",
            total_shares=100,
            listing_price="100.00",
        )
        order = order_place(
            user_id=owner_user.pk,
            symbol="AUTHZ",
            side="buy",
            quantity=1,
            price="90.00",
            client_order_id=OWNER_CLIENT_ORDER_ID,
        )
        vehicle = VehicleFactory(owner=owner_user)
        yield World(
            owner=owner_user,
            intruder=intruder,
            instrument=instrument,
            vehicle=vehicle,
            order=order,
            photo=VehiclePhotoFactory(vehicle=vehicle),
            spec=VehicleSpecFactory(vehicle=vehicle),
            event=VehicleEventFactory(vehicle=vehicle),
        )


def is_api(route: str) -> bool:
    return route.startswith("api/")


def request(world: World, route: str, method: str, user: User | None = None) -> Any:
    """One request as `user` (anonymous when None): token auth for the API, a session for pages."""
    url = world.url(route)
    data = PAYLOADS.get((route, method), {})
    if is_api(route):
        api = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api.generic(method, url, data=json.dumps(data), content_type="application/json")
    client = Client()
    if user is not None:
        client.force_login(user)
    if method == "GET":
        return client.get(url)
    return client.generic(
        method, url, data=urlencode(data), content_type="application/x-www-form-urlencoded"
    )


def body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return ""
    return response.content.decode(errors="replace")


# --- exercising the table -----------------------------------------------------------------------


@pytest.mark.parametrize(("route", "method", "rule"), cases("signed_in", "owner"))
def test_anonymous_is_refused(world, route, method, rule):
    before = world.state()

    response = request(world, route, method)

    if is_api(route):
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('accounts:login')}?next=")
    assert world.state() == before


@pytest.mark.parametrize(("route", "method", "rule"), cases("owner"))
def test_somebody_elses_object_is_refused_and_left_alone(world, route, method, rule):
    before = world.state()

    response = request(world, route, method, user=world.intruder)

    assert response.status_code == rule.others
    assert world.state() == before
    assert OWNER_CLIENT_ORDER_ID not in body(response)


@pytest.mark.parametrize(("route", "method", "rule"), cases("signed_in"))
def test_signed_in_answers_show_only_your_own(world, route, method, rule):
    before = world.state()

    response = request(world, route, method, user=world.intruder)

    assert response.status_code < 500
    assert response.status_code not in (401, 403)
    assert OWNER_MEMO not in body(response)
    assert OWNER_CLIENT_ORDER_ID not in body(response)
    assert world.state() == before


@pytest.mark.parametrize(("route", "method", "rule"), cases("public"))
def test_public_urls_serve_anonymous(world, route, method, rule):
    assert rule.why

    response = request(world, route, method)

    assert response.status_code < 500
    assert response.status_code not in (401, 403)
    if response.status_code == 302:
        assert not response["Location"].startswith(reverse("accounts:login"))
    assert OWNER_MEMO not in body(response)
    assert OWNER_CLIENT_ORDER_ID not in body(response)


def test_the_owner_sees_what_others_may_not(world):
    """The markers are real: the owner's own answers show them."""
    orders = request(world, "api/v1/orders/", "GET", user=world.owner)
    detail = request(world, "api/v1/orders/<int:order_id>/", "GET", user=world.owner)
    ledger = request(world, "api/v1/account/ledger/", "GET", user=world.owner)
    page = request(world, "ledger/", "GET", user=world.owner)

    assert OWNER_CLIENT_ORDER_ID in body(orders)
    assert OWNER_CLIENT_ORDER_ID in body(detail)
    assert OWNER_MEMO in body(ledger)
    assert OWNER_MEMO in body(page)


def test_own_data_endpoints_answer_with_the_callers_rows(world):
    notification = Notification.objects.filter(user=world.owner).first()
    assert notification is not None

    account = request(world, "api/v1/account/", "GET", user=world.intruder).json()
    notifications = request(world, "api/v1/notifications/", "GET", user=world.intruder).json()
    portfolio = request(world, "api/v1/portfolio/", "GET", user=world.intruder).json()

    assert account["cash_balance"] == "10.00"
    assert notification.pk not in [row["id"] for row in notifications["results"]]
    assert portfolio["positions"] == []


def test_the_admin_is_for_staff_only(world):
    anonymous = Client().get("/admin/")
    signed_in = Client()
    signed_in.force_login(world.intruder)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")
    assert signed_in.get("/admin/").status_code == 302
    assert signed_in.get("/admin/market/order/").status_code == 302


def test_cancelling_somebody_elses_order_on_the_page_says_no_such_order(world):
    client = Client()
    client.force_login(world.intruder)

    response = client.post(world.url("orders/<int:order_id>/cancel/"), follow=True)

    assert "No such order." in body(response)
    assert Order.objects.get(pk=world.order.pk).status == OrderStatus.OPEN
