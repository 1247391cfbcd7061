"""Listing a vehicle: it becomes an instrument whose shares its owner holds (MARKET_RULES 1)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from market import clock
from market.calendar import SessionPhase, get_calendar
from market.errors import AlreadyListed, InvalidOrder, NotVehicleOwner, SymbolTaken
from market.models import Instrument, Position
from market.money import cents, is_on_tick, to_decimal
from market.outbox import record_listing
from market.services.audit import audit_log
from vehicles.models import Vehicle

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{3,12}$")


def symbol_suggest(vehicle: Vehicle) -> str:
    """A free symbol from the vehicle: make, model and year, e.g. PORS911-73 -> PORS91173."""

    def letters(text: str, length: int) -> str:
        return re.sub(r"[^A-Z0-9]", "", text.upper())[:length]

    stem = (letters(vehicle.make, 4) + letters(vehicle.model, 4) + f"{vehicle.year % 100:02d}")[:10]
    stem = stem.ljust(3, "X")
    taken = set(Instrument.objects.filter(symbol__startswith=stem).values_list("symbol", flat=True))
    if stem not in taken:
        return stem
    return next(f"{stem}{n}" for n in range(2, 100) if f"{stem}{n}" not in taken)


def instrument_list(
    *,
    user_id: int,
    vehicle: Vehicle,
    symbol: str | None = None,
    total_shares: object = None,
    listing_price: object = None,
    now: datetime | None = None,
) -> Instrument:
    """Start trading a vehicle. Its owner receives every share at the listing price, as a
    contribution (never profit); the instrument first trades in the next opening auction.
    Locks: none beyond the new rows (the symbol and the vehicle are unique). `now` (default:
    the market clock) lists it at another market time, e.g. the demo seed's day of history."""
    if vehicle.owner_id != user_id:
        raise NotVehicleOwner()
    if Instrument.objects.filter(vehicle=vehicle).exists():
        raise AlreadyListed(symbol=vehicle.instrument.symbol)
    shares = _total_shares(total_shares)
    price = _listing_price(listing_price)
    symbol = (symbol or "").strip().upper() or symbol_suggest(vehicle)
    if not SYMBOL_PATTERN.match(symbol):
        raise InvalidOrder("A symbol has 3 to 12 letters or digits.", field="symbol")
    now = now or clock.now()
    session = get_calendar().session_at(now)
    first_day = (
        session.trading_date
        if session.phase == SessionPhase.PRE_OPEN
        else get_calendar().next_trading_day(session.trading_date)
    )
    try:
        with transaction.atomic(durable=True):
            instrument = Instrument.objects.create(
                symbol=symbol,
                vehicle=vehicle,
                total_shares=shares,
                listing_price=price,
                first_trading_date=first_day,
            )
            position = Position.objects.create(
                user_id=user_id,
                instrument=instrument,
                quantity=shares,
                cost_basis_amount=cents(price * shares),
            )
            audit_log(
                action="instrument.listed",
                actor_id=user_id,
                instrument_id=instrument.pk,
                symbol=symbol,
                total_shares=shares,
                listing_price=price,
                first_trading_date=first_day,
            )
            record_listing(instrument=instrument, position=position, now=now)  # real-time streams
    except IntegrityError:
        if Instrument.objects.filter(vehicle=vehicle).exists():
            raise AlreadyListed(symbol=Instrument.objects.get(vehicle=vehicle).symbol) from None
        raise SymbolTaken(symbol=symbol, field="symbol") from None
    return instrument


def _total_shares(value: object) -> int:
    if value in (None, ""):
        return int(settings.MARKET_DEFAULT_TOTAL_SHARES)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOrder("Total shares is a whole number.", field="total_shares")
    if not 1 <= value <= settings.MARKET_MAX_TOTAL_SHARES:
        raise InvalidOrder(
            f"Total shares is between 1 and {settings.MARKET_MAX_TOTAL_SHARES:,}.",
            field="total_shares",
        )
    return value


def _listing_price(value: object) -> Decimal:
    if value in (None, ""):
        return Decimal(settings.MARKET_DEFAULT_LISTING_PRICE)
    try:
        price = to_decimal(value)
    except (TypeError, ValueError):
        raise InvalidOrder(
            "The listing price is a number of dollars such as 100.00.", field="listing_price"
        ) from None
    if not settings.MARKET_MIN_PRICE <= price <= settings.MARKET_MAX_PRICE or not is_on_tick(price):
        raise InvalidOrder(
            f"The listing price is on the $0.01 tick, between {settings.MARKET_MIN_PRICE} and "
            f"{settings.MARKET_MAX_PRICE:,}.",
            field="listing_price",
        )
    return price.quantize(Decimal("0.01"))
