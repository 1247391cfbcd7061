"""The browser tests' market, written into the server's own database before it starts:
`python -m tests.browser.seed` with the server's environment (its DATABASE_URL and demo clock)
migrates the database, then seeds it.

An owner with two listed vehicles in continuous trading (one instrument per kind of test, so
that their books never meet) and one unlisted vehicle for the listing flow. Prints nothing.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta

import django

OWNER = ("owner", "owner-Pass-2026", "Vale Motors")
# Symbol -> a resting ask the owner leaves in the book (the click-to-fill target).
INSTRUMENTS = {"ALPHA": None, "BRAVO": "105.00", "CHARLIE": None}
UNLISTED = ("Ferrari", "Dino 246 GT", 1972)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()

    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)

    from accounts.services import user_register
    from market import clock
    from market.calendar import get_calendar
    from market.models import AuctionKind
    from market.services.auctions import auction_run
    from market.services.listings import instrument_list
    from market.services.orders import order_place
    from tests.factories import VehicleFactory

    calendar = get_calendar()
    today = calendar.session_at(clock.now()).trading_date
    pre_open = datetime.combine(today, time(9, 0), tzinfo=calendar.tz)
    opening = calendar.open_at(today) + timedelta(seconds=1)

    username, password, name = OWNER
    owner = user_register(username=username, password=password, display_name=name)
    for serial, (symbol, ask) in enumerate(INSTRUMENTS.items()):
        vehicle = VehicleFactory(owner=owner, make="Porsche", model="911", year=1980 + serial)
        instrument = instrument_list(user_id=owner.pk, vehicle=vehicle, symbol=symbol, now=pre_open)
        auction_run(
            instrument_id=instrument.pk, trading_date=today, kind=AuctionKind.OPENING, now=opening
        )
        if ask is not None:
            order_place(
                user_id=owner.pk, symbol=symbol, side="sell", type="limit", quantity=7, price=ask
            )
    make, model, year = UNLISTED
    VehicleFactory(owner=owner, make=make, model=model, year=year, trim="", colour="Rosso")


if __name__ == "__main__":
    main()
