"""Every operation of the OpenAPI schema, fuzzed by schemathesis against the WSGI app.

Each operation gets a fresh market: a signed-in trader with cash and shares, an instrument in
continuous trading with resting orders on both sides and a trade behind it, and a vehicle of the
trader's not yet listed. Path parameters and order bodies are steered to those real objects much
of the time, so that requests reach the services instead of stopping at a 404 or a 400.
Requests valid by the schema and invalid ones are sent; whatever comes back must not be a 500,
and its status, content type, headers and body must be those the schema documents.

Two of schemathesis's checks hold the API to more than its schema can say, and are left out
where that is so (docs/api.md):
- `negative_data_rejection` wants every schema-violating request refused. DRF's limit/offset
  pagination ignores a malformed `?offset=`, as the leaderboard does an empty `?date=` and the
  notifications a bad `?unread=`: lenient on purpose, documented as defaults.
- `positive_data_acceptance` wants every schema-valid request accepted. Writes check what no
  schema states (a password's strength, a VIN's check digit, a price on the tick and within the
  limits, the instrument's share count) and answer those 400, so it runs for reads only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from accounts.models import User
from market.models import Instrument, Order
from market.services.orders import order_place
from tests.market.conftest import make_vin
from vehicles.models import Vehicle

pytestmark = pytest.mark.django_db

# Loaded at collection (the schema view needs no database): one test per operation. The
# coverage phase adds boundary and wrong-type values for every parameter beyond these examples.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
schema.config.generation.update(max_examples=12)

# The real objects of the running test, set by the `market` fixture for the hooks below.
KNOWN: dict[str, Any] = {}


@pytest.fixture
def wsgi_keeps_the_test_connection() -> Iterator[None]:
    """The WSGI app closes the database connection after each request, as a server should: that
    would end the test's transaction. Django's test client unhooks the same handlers."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def market(
    settings: Any,
    wsgi_keeps_the_test_connection: None,
    continuous_instrument: Callable[..., Instrument],
    make_trader: Callable[..., User],
) -> dict[str, Any]:
    # Sign-up and log-in are throttled per address, 30 a minute, and the clock stands still.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth": "1000000/minute",
        },
    }
    trader = make_trader(cash="50000.00", name="fuzzer")
    instrument = continuous_instrument(owner=trader)
    other = make_trader(cash="50000.00")
    for user, side, quantity, price in [
        (trader, "sell", 20, "101.00"),
        (trader, "sell", 10, "102.50"),
        (other, "buy", 15, "99.00"),
        (other, "buy", 5, "98.75"),
        (other, "buy", 5, "101.00"),  # trades with the trader's ask
        (trader, "buy", 3, "95.00"),
    ]:
        order_place(
            user_id=user.pk,
            symbol=instrument.symbol,
            side=side,
            type="limit",
            quantity=quantity,
            price=Decimal(price),
        )
    vehicle = Vehicle.objects.create(
        owner=trader, make="Ford", model="Mustang", year=1967, vin=make_vin(99_000_001)
    )
    KNOWN.clear()
    KNOWN.update(
        symbol=[instrument.symbol],
        # The trader's own orders, and another user's (404 for the trader).
        order_id=list(Order.objects.order_by("pk").values_list("pk", flat=True)),
        # Unlisted and listed vehicles of the trader's.
        vehicle_id=[vehicle.pk, instrument.vehicle_id],
        token=Token.objects.create(user=trader).key,
    )
    return KNOWN


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Mostly the real symbol, order or vehicle; sometimes what schemathesis drew."""
    if not path_parameters or not KNOWN:
        return st.just(path_parameters)
    steered = st.fixed_dictionaries(
        {
            name: st.sampled_from(KNOWN[name]) if name in KNOWN else st.just(value)
            for name, value in path_parameters.items()
        }
    )
    return st.one_of(steered, steered, st.just(path_parameters))


# Orders that can trade: the real symbol, sizes within the instrument's shares, limits around
# the book, and market orders (the drawn prices are mostly beyond the price limits).
LIMIT_ORDER = st.fixed_dictionaries(
    {
        "type": st.just("limit"),
        "price": st.sampled_from(["95.00", "98.75", "99.00", "100", "101.00", "102.50", "104.99"]),
        "time_in_force": st.sampled_from(["day", "gtc", "ioc"]),
    }
)
MARKET_ORDER = st.fixed_dictionaries({"type": st.just("market"), "price": st.none()})
REALISTIC_ORDER = st.fixed_dictionaries(
    {"side": st.sampled_from(["buy", "sell"]), "quantity": st.integers(1, 40)}
).flatmap(lambda order: st.one_of(LIMIT_ORDER, LIMIT_ORDER, MARKET_ORDER).map(order.__or__))


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Orders placed: mostly realistic ones on the real symbol; sometimes what was drawn."""
    operation = context.operation
    is_order = (operation.method.upper(), operation.path) == ("POST", "/api/v1/orders/")
    if not KNOWN or not is_order or not isinstance(body, dict):
        return st.just(body)
    realistic = REALISTIC_ORDER.map(lambda order: {**body, **order, "symbol": KNOWN["symbol"][0]})
    return st.one_of(realistic, realistic, st.just(body))


@schema.parametrize()
@hypothesis_settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_schema_says(case: Any, market: dict[str, Any]) -> None:
    excluded = [negative_data_rejection]
    if case.method != "GET":
        excluded.append(positive_data_acceptance)
    case.call_and_validate(
        headers={"Authorization": f"Token {market['token']}"}, excluded_checks=excluded
    )
