"""The demo market: vehicles, owners, traders, a demo login and a day of history.

Everything goes through the services a user's request goes through (registration's cash
account, `vehicle_create`, `instrument_list`, the order book, `auction_run`), never through
hand-written market rows. The day of history is written at explicit market times: the
previous trading day's pre-open, opening auction, continuous trading, closing call and
closing auction, then resting good-till-cancelled quotes for the next session.

Idempotent: each piece is looked up first and made only when missing, so a second run
changes nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils.text import slugify

from accounts.models import User
from accounts.services import user_register
from config.errors import DomainError
from market import clock, locks
from market.calendar import get_calendar
from market.demo.data import (
    DEMO_DISPLAY_NAME,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    OWNERS,
    TRADERS,
    VEHICLES,
    AgentKind,
    DemoVehicle,
)
from market.demo.pictures import vehicle_picture_jpeg
from market.models import (
    OPEN_STATUSES,
    AuctionKind,
    AuctionRecord,
    CashAccount,
    Instrument,
    Order,
    OrderType,
    Position,
    Side,
    TimeInForce,
    Trade,
)
from market.money import TICK, buy_reservation
from market.services.auctions import auction_run
from market.services.book import buyer_rate
from market.services.ledger import cash_account_open
from market.services.listings import instrument_list
from market.services.orders import book_execute, validate_place
from vehicles.models import Vehicle
from vehicles.services import vehicle_create, vehicle_event_add, vehicle_photo_add

logger = logging.getLogger(__name__)

HISTORY_SEED = 1973
# Continuous trades per instrument in the day of history, on average.
HISTORY_TRADES = 40
BASIS_POINTS = Decimal(10_000)
LISTED_AT = time(8, 0)
# After the close, market makers leave good-till-cancelled quotes for the next session.
QUOTES_AFTER_CLOSE = timedelta(minutes=10)


class DemoSeedRefused(Exception):
    """The demo hands out paper money: it runs only with MARKET_DEMO_MODE on."""


@dataclass
class SeedReport:
    skipped: bool = False
    users_created: int = 0
    vehicles_created: int = 0
    photos_created: int = 0
    events_created: int = 0
    instruments_listed: int = 0
    history_date: date | None = None
    orders_placed: int = 0
    trades: int = 0
    auctions: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.users_created
            or self.vehicles_created
            or self.photos_created
            or self.events_created
            or self.instruments_listed
            or self.orders_placed
            or self.auctions
        )

    def lines(self) -> list[str]:
        if self.skipped:
            return ["seed_demo: instruments exist already; nothing to do (--if-empty)."]
        lines = [
            f"users: {self.users_created} created "
            f"({len(OWNERS)} owners, {len(TRADERS)} simulated traders, the demo login)",
            f"vehicles: {self.vehicles_created} created, {self.events_created} timeline events, "
            f"{self.photos_created} pictures",
            f"instruments: {self.instruments_listed} listed",
        ]
        if self.history_date is not None:
            lines.append(
                f"history of {self.history_date}: {self.orders_placed} orders, "
                f"{self.trades} trades, {self.auctions} auctions"
            )
        lines += self.notes
        if not self.changed:
            lines.append("The demo data was complete already: nothing changed.")
        lines.append(f"Demo login: username '{DEMO_USERNAME}', password '{DEMO_PASSWORD}'.")
        return lines


def demo_seed(
    *, if_empty: bool = False, now: datetime | None = None, history_trades: int = HISTORY_TRADES
) -> SeedReport:
    """Make whatever part of the demo market is missing. `now`: the market time to seed at
    (default: the market clock); the history is the trading day that closed last before it,
    with about `history_trades` continuous trades per instrument."""
    if if_empty and Instrument.objects.exists():
        return SeedReport(skipped=True)
    if not settings.MARKET_DEMO_MODE:
        raise DemoSeedRefused(
            "seed_demo hands out paper money: it runs only with MARKET_DEMO_MODE on."
        )
    now = now or clock.now()
    report = SeedReport()
    users = _users_ensure(report)
    history_day = get_calendar().last_close(now)
    listed_at = (
        datetime.combine(history_day, LISTED_AT, tzinfo=get_calendar().tz)
        if history_day is not None
        else now
    )
    # Instruments without any order yet get the day of history (a second run finds theirs).
    fresh: list[Instrument] = []
    for demo_vehicle in VEHICLES:
        vehicle = _vehicle_ensure(demo_vehicle, users[demo_vehicle.owner], report)
        if vehicle is None:
            continue
        instrument = _instrument_ensure(demo_vehicle, vehicle, listed_at, report)
        if (
            instrument is not None
            and history_day is not None
            and instrument.first_trading_date <= history_day
            and not Order.objects.filter(instrument=instrument).exists()
        ):
            fresh.append(instrument)
    if history_day is not None and fresh:
        report.history_date = history_day
        History(
            day=history_day,
            now=now,
            instruments=fresh,
            users=users,
            report=report,
            trades=history_trades,
        ).write()
    return report


# --- people ---------------------------------------------------------------------------------


def _users_ensure(report: SeedReport) -> dict[str, User]:
    users: dict[str, User] = {}
    people = [(person.username, person.display_name) for person in OWNERS]
    people += [(trader.username, trader.display_name) for trader in TRADERS]
    for username, display_name in people:
        users[username] = _bot_ensure(username, display_name, report)
    demo = User.objects.filter(username=DEMO_USERNAME).first()
    if demo is None:
        demo = user_register(
            username=DEMO_USERNAME, password=DEMO_PASSWORD, display_name=DEMO_DISPLAY_NAME
        )
        report.users_created += 1
    else:
        report.notes.append(f"The '{DEMO_USERNAME}' user exists already: left as it is.")
    users[DEMO_USERNAME] = demo
    return users


def _bot_ensure(username: str, display_name: str, report: SeedReport) -> User:
    """A simulated user: no password to log in with, a cash account with the paper money."""
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user
    user = User(username=username, display_name=display_name)
    user.set_unusable_password()
    with transaction.atomic(durable=True):
        user.save()
        cash_account_open(user=user)
    report.users_created += 1
    return user


# --- vehicles and listings ------------------------------------------------------------------


def _vehicle_ensure(demo: DemoVehicle, owner: User, report: SeedReport) -> Vehicle | None:
    vehicle = Vehicle.objects.filter(vin=demo.vin).first()
    if vehicle is not None and vehicle.owner_id != owner.pk:
        report.notes.append(f"VIN {demo.vin} belongs to another user: {demo.title} skipped.")
        return None
    if vehicle is None:
        vehicle = vehicle_create(
            owner=owner,
            make=demo.make,
            model=demo.model,
            year=demo.year,
            vin=demo.vin,
            trim=demo.trim,
            mileage=demo.mileage,
            colour=demo.colour,
            description=demo.description,
            specs=[{"name": name, "value": value} for name, value in demo.specs],
        )
        report.vehicles_created += 1
    if not vehicle.events.exists():
        for event in demo.events:
            vehicle_event_add(
                user=owner, vehicle=vehicle, date=event.date, title=event.title, text=event.text
            )
            report.events_created += 1
    if not vehicle.photos.exists():
        name = slugify(f"{demo.year} {demo.make} {demo.model}") + ".jpg"
        vehicle_photo_add(
            user=owner,
            vehicle=vehicle,
            image=ContentFile(vehicle_picture_jpeg(demo), name=name),
            caption=f"{demo.title}, {demo.colour} (illustration)",
        )
        report.photos_created += 1
    return vehicle


def _instrument_ensure(
    demo: DemoVehicle, vehicle: Vehicle, listed_at: datetime, report: SeedReport
) -> Instrument | None:
    instrument = Instrument.objects.filter(vehicle=vehicle).first()
    if instrument is not None:
        return instrument
    try:
        instrument = instrument_list(
            user_id=vehicle.owner_id,
            vehicle=vehicle,
            symbol=demo.symbol,
            total_shares=demo.total_shares,
            listing_price=demo.listing_price,
            now=listed_at,
        )
    except DomainError as error:
        report.notes.append(f"{demo.title} not listed: {error}")
        return None
    report.instruments_listed += 1
    return instrument


# --- a day of history -----------------------------------------------------------------------


# (user id, side, quantity, limit price): one limit order of a history step.
_Command = tuple[int, str, int, Decimal]


@dataclass(order=True)
class _Step:
    at: datetime
    sequence: int
    run: Callable[[], None] = field(compare=False)


class History:
    """One trading day of orders, auctions and trades for freshly listed instruments.

    Owners offer part of their shares in the pre-open, traders bid, the opening auction sets
    the open; during continuous trading one trader rests a limit order and another takes it,
    at times spread over the day's minutes and at prices that wander around the listing
    price; a closing call and auction set the close; market makers leave quotes for the next
    session. Each step is one batch of the order book's matching step (`book_execute`, as
    `order_place` runs it) at that step's market time; an order the book refuses (cash,
    shares, self-trade) is simply not placed.
    """

    def __init__(
        self,
        *,
        day: date,
        now: datetime,
        instruments: list[Instrument],
        users: dict[str, User],
        report: SeedReport,
        trades: int = HISTORY_TRADES,
    ) -> None:
        self.calendar = get_calendar()
        self.trades = trades
        self.day = day
        self.now = now
        self.instruments = instruments
        self.report = report
        self.rng = random.Random(HISTORY_SEED)
        self.owner_ids = {users[person.username].pk for person in OWNERS}
        self.demo_id = users[DEMO_USERNAME].pk
        kinds = {trader.username: trader.kind for trader in TRADERS}
        self.market_makers = [
            users[name].pk for name, kind in kinds.items() if kind == AgentKind.MARKET_MAKER
        ]
        self.traders = [users[name].pk for name in kinds]
        self._steps: list[_Step] = []

    def write(self) -> None:
        open_at = self.calendar.open_at(self.day)
        closing_call_at = self.calendar.closing_call_at(self.day)
        close_at = self.calendar.close_at(self.day)
        quotes_at = min(close_at + QUOTES_AFTER_CLOSE, self.now)
        for number, instrument in enumerate(self.instruments):
            self._plan_pre_open(instrument, open_at, with_demo=number % 3 == 0)
            self._at(open_at, partial(self._auction, instrument, AuctionKind.OPENING, open_at))
            self._plan_continuous(instrument, open_at, closing_call_at)
            call_at = closing_call_at + timedelta(seconds=self.rng.randint(30, 240))
            self._at(call_at, partial(self._closing_call, instrument, call_at))
            self._at(close_at, partial(self._auction, instrument, AuctionKind.CLOSING, close_at))
            self._at(quotes_at, partial(self._quote, instrument, quotes_at))
        for step in sorted(self._steps):
            step.run()
        self.report.trades = Trade.objects.filter(
            instrument__in=self.instruments, trading_date=self.day
        ).count()

    def _at(self, at: datetime, run: Callable[[], None]) -> None:
        self._steps.append(_Step(at, len(self._steps), run))

    # --- the plan ---------------------------------------------------------------------------

    def _plan_pre_open(self, instrument: Instrument, open_at: datetime, *, with_demo: bool) -> None:
        """Three batches: a tranche of the owner's offer each, and a third of the bids."""
        listing = instrument.listing_price
        owner_id = Position.objects.get(instrument=instrument, quantity__gt=0).user_id
        offered = max(10, min(instrument.total_shares * 8 // 100, int(12_000 // listing)))
        bidders = self.market_makers + self.rng.sample(
            [pk for pk in self.traders if pk not in self.market_makers], 5
        )
        if with_demo:
            bidders.append(self.demo_id)
        batches: list[list[_Command]] = [[] for _ in range(3)]
        for tranche, premium in enumerate((0, 200, 400)):
            batches[tranche].append(
                (owner_id, Side.SELL, offered // 3 + 1, _shift(listing, premium))
            )
        for number, bidder in enumerate(bidders):
            premium = 500 if bidder == self.demo_id else self.rng.randint(-300, 300)
            price = _shift(listing, premium)
            budget = Decimal(500 if bidder == self.demo_id else self.rng.randint(400, 1300))
            batches[number % 3].append((bidder, Side.BUY, max(1, int(budget // price)), price))
        for number, batch in enumerate(batches):
            at = open_at - timedelta(minutes=28 - 9 * number, seconds=self.rng.randint(0, 59))
            self._at(at, partial(self._execute, instrument, batch, at))

    def _plan_continuous(self, instrument: Instrument, start: datetime, end: datetime) -> None:
        seconds = int((end - start).total_seconds()) - 120
        count = self.rng.randint(self.trades * 3 // 4, self.trades * 5 // 4)
        for offset in sorted(self.rng.sample(range(seconds), count)):
            at = start + timedelta(seconds=60 + offset)
            self._at(at, partial(self._trade, instrument, at))

    # --- the steps --------------------------------------------------------------------------

    def _execute(
        self,
        instrument: Instrument,
        batch: list[_Command],
        at: datetime,
        time_in_force: str = TimeInForce.DAY,
    ) -> None:
        """Limit orders as one batch of the matching step, at market time `at`. The last of
        a batch marked immediate-or-cancel takes what the others rest."""
        commands = [
            validate_place(
                user_id=user_id,
                side=side,
                type=OrderType.LIMIT,
                quantity=quantity,
                price=price,
                time_in_force=tif,
                client_order_id=None,
            )
            for user_id, side, quantity, price, tif in _with_time_in_force(batch, time_in_force)
        ]
        with transaction.atomic(durable=True):
            locked = locks.instrument_for_update(pk=instrument.pk)
            outcomes = book_execute(locked, list(commands), now=at)
        for outcome in outcomes:
            if isinstance(outcome, DomainError):
                logger.debug("demo history: %s order refused: %s", instrument.symbol, outcome)
            else:
                self.report.orders_placed += 1

    def _auction(self, instrument: Instrument, kind: str, at: datetime) -> None:
        if not AuctionRecord.objects.filter(
            instrument=instrument, trading_date=self.day, kind=kind
        ).exists():
            self.report.auctions += 1
        auction_run(instrument_id=instrument.pk, trading_date=self.day, kind=kind, now=at)

    def _trade(self, instrument: Instrument, at: datetime) -> None:
        """A resting order and the order that takes it, at a price one step from the last."""
        reference = Instrument.objects.get(pk=instrument.pk).reference_price
        pull = int((instrument.listing_price - reference) * 500 / reference)  # 5% of the gap
        price = _shift(reference, self.rng.randint(-70, 70) + pull)
        quantity = self.rng.randint(1, max(1, int(1500 // price)))
        sellers = self._holders(instrument, quantity)
        buyers = self._payers(instrument, price, quantity)
        if not sellers or not buyers:
            return
        seller = self.rng.choice(sellers)
        buyer = self.rng.choice([pk for pk in buyers if pk != seller] or [seller])
        if buyer == seller:
            return
        maker: _Command
        taker: _Command
        if price >= reference:
            maker, taker = (seller, Side.SELL, quantity, price), (buyer, Side.BUY, quantity, price)
        else:
            maker, taker = (buyer, Side.BUY, quantity, price), (seller, Side.SELL, quantity, price)
        self._execute(instrument, [maker, taker], at, time_in_force=TimeInForce.IOC)

    def _closing_call(self, instrument: Instrument, at: datetime) -> None:
        """Pairs of a buy above and a sell below the last price: the closing auction crosses."""
        reference = Instrument.objects.get(pk=instrument.pk).reference_price
        batch: list[_Command] = []
        used: set[int] = set()
        for _ in range(self.rng.randint(2, 3)):
            quantity = self.rng.randint(1, max(1, int(800 // reference)))
            bid = _shift(reference, self.rng.randint(20, 120))
            ask = _shift(reference, -self.rng.randint(20, 120))
            buyers = [pk for pk in self._payers(instrument, bid, quantity) if pk not in used]
            sellers = [pk for pk in self._holders(instrument, quantity) if pk not in used]
            if not buyers or not sellers:
                continue
            buyer = self.rng.choice(buyers)
            seller = self.rng.choice([pk for pk in sellers if pk != buyer] or [buyer])
            if seller == buyer:
                continue
            used |= {buyer, seller}
            batch += [(buyer, Side.BUY, quantity, bid), (seller, Side.SELL, quantity, ask)]
        if batch:
            self._execute(instrument, batch, at)

    def _quote(self, instrument: Instrument, at: datetime) -> None:
        """Market makers' good-till-cancelled quotes around the close for the next session."""
        close = Instrument.objects.get(pk=instrument.pk).reference_price
        batch: list[_Command] = []
        for maker in self.rng.sample(self.market_makers, 3):
            quantity = self.rng.randint(2, max(2, int(900 // close)))
            bid = _shift(close, -self.rng.randint(40, 200))
            ask = _shift(close, self.rng.randint(40, 200))
            if maker in self._payers(instrument, bid, quantity):
                batch.append((maker, Side.BUY, quantity, bid))
            if maker in self._holders(instrument, quantity):
                batch.append((maker, Side.SELL, quantity, ask))
        if batch:
            self._execute(instrument, batch, at, time_in_force=TimeInForce.GTC)

    # --- who can trade ----------------------------------------------------------------------

    def _holders(self, instrument: Instrument, quantity: int) -> list[int]:
        """Traders (and, now and then, the owner) with `quantity` shares free to sell and no
        resting buy that the sell could meet."""
        bidding = self._resting(instrument, Side.BUY)
        holders = [
            user_id
            for user_id in Position.objects.filter(
                instrument=instrument, quantity__gte=F("reserved_quantity") + quantity
            )
            .exclude(user_id=self.demo_id)
            .order_by("user_id")
            .values_list("user_id", flat=True)
            if user_id not in bidding
        ]
        traders = [pk for pk in holders if pk not in self.owner_ids]
        if traders and self.rng.randint(1, 4) > 1:
            return traders
        return holders

    def _payers(self, instrument: Instrument, price: Decimal, quantity: int) -> list[int]:
        """Traders with the cash a buy of `quantity` at `price` reserves, and no resting sell
        that the buy could meet."""
        needed = buy_reservation(price, quantity, buyer_rate())
        offering = self._resting(instrument, Side.SELL)
        return [
            user_id
            for user_id, balance, reserved in CashAccount.objects.filter(user_id__in=self.traders)
            .order_by("user_id")
            .values_list("user_id", "balance_amount", "reserved_amount")
            if user_id is not None and balance - reserved >= needed and user_id not in offering
        ]

    def _resting(self, instrument: Instrument, side: str) -> set[int]:
        return set(
            Order.objects.filter(
                instrument=instrument, side=side, status__in=OPEN_STATUSES
            ).values_list("user_id", flat=True)
        )


def _with_time_in_force(
    batch: list[_Command], time_in_force: str
) -> list[tuple[int, str, int, Decimal, str]]:
    """Day orders, or `time_in_force` for every order: immediate-or-cancel for the last only."""
    if time_in_force != TimeInForce.IOC:
        return [(*command, time_in_force) for command in batch]
    last = len(batch) - 1
    return [
        (*command, TimeInForce.IOC if number == last else TimeInForce.DAY)
        for number, command in enumerate(batch)
    ]


def _shift(price: Decimal, basis_points: int) -> Decimal:
    """`price` moved by `basis_points` hundredths of a percent, on the tick."""
    moved = (price * (BASIS_POINTS + basis_points) / BASIS_POINTS).quantize(TICK, ROUND_DOWN)
    return max(TICK, moved)
