"""What the market adds to other apps' pages, through their settings hooks (accounts/hooks.py):

- `vehicle_market_section` (VEHICLES_DETAIL_SECTIONS): on a listed vehicle's page, the trading
  tabs (ticker and chart, order book, portfolio, leaderboard) with the order form; on an
  owner's unlisted vehicle, "Start trading" (the listing form).
- `account_cash_section` (ACCOUNTS_PAGE_SECTIONS): cash, reserved, available, equity and the
  latest ledger entries.

And the context builders the market's own pages share with them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.forms import Form
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from market import clock, relay, selectors
from market.broadcast import instrument_stream
from market.calendar import get_calendar
from market.forms import ListingForm, OrderForm
from market.models import Instrument
from market.reuse import ReusedReads
from market.services.listings import symbol_suggest
from market.templatetags.market_format import phase_label, transition_label
from vehicles.models import Vehicle

LEDGER_ON_ACCOUNT_PAGE = 10
RECENT_TRADES = 15
CHART_MINUTES = 30
# The parts of _trading.html that public_market_state renders once for every visitor.
FRAGMENTS = {
    "quote": "market/_quote.html",
    "chart_and_facts": "market/_chart_and_facts.html",
    "trades": "market/_recent_trades.html",
    "book": "market/_book_panel.html",
}
# A vehicle page's public market state (ticker, book, chart, trades) serves every visitor for
# a second at one stream sequence number (public_market_state).
public_states = ReusedReads(1.0)


def market_clock() -> dict[str, Any]:
    """The market's session phase and its next scheduled transition, as a real instant
    (`clock.to_real`: on the demo clock a virtual hour passes in seconds). No queries."""
    now = clock.now()
    calendar = get_calendar()
    session = calendar.session_at(now)
    transition = calendar.next_transition(now)
    return {
        "phase": str(session.phase),
        "phase_label": phase_label(session.phase),
        "trading_date": session.trading_date,
        "market_now": now,
        "next_kind": str(transition.kind),
        "next_label": transition_label(transition.kind),
        "next_at": clock.to_real(transition.at),
        "next_market_at": transition.at,
        "server_now": timezone.now(),
        "is_demo": clock.is_demo(),
    }


def fee_rates() -> dict[str, str]:
    """Each side's share of the commission as decimal strings ("0.01") for the order form's
    preview, and as percentages ("1") for its labels."""
    rate = Decimal(settings.MARKET_COMMISSION_RATE)
    buyer_share = Decimal(settings.MARKET_COMMISSION_BUYER_SHARE)
    buyer, seller = rate * buyer_share, rate * (1 - buyer_share)
    return {
        "buyer": str(buyer),
        "seller": str(seller),
        "buyer_percent": f"{(buyer * 100).normalize():f}",
        "seller_percent": f"{(seller * 100).normalize():f}",
    }


def listing_initial(vehicle: Vehicle) -> dict[str, Any]:
    """The listing form's suggestions: a free symbol (1 query) and the default size and price."""
    return {
        "symbol": symbol_suggest(vehicle),
        "total_shares": settings.MARKET_DEFAULT_TOTAL_SHARES,
        "listing_price": Decimal(settings.MARKET_DEFAULT_LISTING_PRICE),
    }


def _position_for(portfolio: dict[str, Any] | None, symbol: str) -> dict[str, Any] | None:
    if portfolio is None:
        return None
    return next((row for row in portfolio["positions"] if row["symbol"] == symbol), None)


def order_ticket_context(
    request: HttpRequest,
    *,
    instrument: Instrument,
    form: Form | None = None,
    ticker: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the order form shows: the ticker, the cash and shares the user can commit, the
    fee rates. Queries: the ticker unless given (1, 2 in a call phase), the account (2), the
    portfolio (2)."""
    user = request.user
    account = selectors.account_summary(user) if user.is_authenticated else None
    portfolio = selectors.portfolio_get(user) if user.is_authenticated else None
    return {
        "ticker": ticker if ticker is not None else selectors.ticker_get(instrument),
        "account": account,
        "portfolio": portfolio,
        "position": _position_for(portfolio, instrument.symbol),
        "order_form": form or OrderForm(auto_id="order-%s"),
        "fees": fee_rates(),
        "orders_api_url": "/api/v1/orders/",
    }


def json_ready(value: Any) -> Any:
    """Decimals and datetimes as the API sends them: strings."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def public_market_state(instrument: Instrument) -> dict[str, Any]:
    """What a listed vehicle's page shows every visitor alike: the ticker, the book, the chart's
    bars and the recent trades, as data and as rendered HTML fragments (`html`: quote,
    chart_and_facts, trades, book). 1 query (the stream's sequence number) when this process
    read them at the same number, session phase and minute within the last second
    (`public_states`); else 6 (7 in a call phase).

    A popular car's page then costs one read and one rendering of its market per change, not
    one per visitor. The number is read first, so the state read after it includes every change
    it numbers; a change committed but not yet relayed can be missed for as long as the relay
    takes (the WebSocket stream is as late), never longer than the reuse time, and the page's
    stream snapshot replaces ticker, book, chart and trades on connect."""
    seq = relay.stream_last_seq(instrument_stream(instrument.symbol))
    now = clock.now()
    session = get_calendar().session_at(now)
    key = (seq, session.trading_date, str(session.phase), now.replace(second=0, microsecond=0))
    cached = public_states.get(instrument.pk, key)
    if cached is not None:
        return cached
    book = selectors.book_depth(instrument, depth=10)
    data = {
        "instrument": instrument,
        "ticker": selectors.ticker_get(instrument),
        "book": book,
        "book_widest": max([level["quantity"] for level in [*book["bids"], *book["asks"]]] or [0]),
        "bars": selectors.bars(instrument, minutes=CHART_MINUTES, now=now),
        "trades": selectors.trades_recent(instrument, limit=RECENT_TRADES),
    }
    # Rendered without the request: nothing in them may depend on who asks.
    html = {name: render_to_string(template, data) for name, template in FRAGMENTS.items()}
    initial = json_ready({name: data[name] for name in ("ticker", "book", "bars")})
    state = {**data, "html": html, "initial": initial}
    public_states.put(instrument.pk, state, key)
    return state


def vehicle_market_section(*, request: HttpRequest, vehicle: Vehicle) -> str:
    """The market's part of a vehicle page. Queries, constant in the number of orders and
    instruments: the instrument (1); listed: the public state (1, or 6-7 when it changed:
    public_market_state), and signed in the account (2), the portfolio (2) and the open orders
    here (3); unlisted and owned: the symbol suggestion (1). The leaderboard tab fetches its
    own page."""
    instrument = Instrument.objects.filter(vehicle_id=vehicle.pk).first()
    is_owner = request.user.is_authenticated and vehicle.owner_id == request.user.pk
    if instrument is None:
        if not is_owner:
            return render_to_string(
                "market/_not_listed.html", {"vehicle": vehicle}, request=request
            )
        form = ListingForm(initial=listing_initial(vehicle), auto_id="listing-%s")
        return render_to_string(
            "market/_start_trading.html", {"vehicle": vehicle, "form": form}, request=request
        )

    public = public_market_state(instrument)
    context = order_ticket_context(request, instrument=instrument, ticker=public["ticker"])
    user = request.user
    open_orders = (
        list(selectors.orders_for(user, status="open").filter(instrument=instrument))
        if user.is_authenticated
        else []
    )
    config = {
        "symbol": instrument.symbol,
        "streams": {
            "instrument": f"/ws/instruments/{instrument.symbol}/",
            "me": "/ws/me/" if user.is_authenticated else None,
        },
        "ordersApiUrl": context["orders_api_url"],
        "fees": context["fees"],
        "timeZone": settings.MARKET_TIME_ZONE,
        "initial": public["initial"],
    }
    context.update(
        {
            "vehicle": vehicle,
            "instrument": instrument,
            "public": public,
            "open_orders": open_orders,
            "is_owner": is_owner,
            "config": config,
            "next": reverse("vehicles:detail", args=[vehicle.pk]) + "#portfolio",
        }
    )
    return render_to_string("market/_trading.html", context, request=request)


def account_cash_section(*, request: HttpRequest) -> str:
    """Cash on the account page: the summary (2 queries) and the latest ledger entries (1)."""
    user = request.user
    context = {
        "account": selectors.account_summary(user),
        "entries": list(selectors.ledger_for(user)[:LEDGER_ON_ACCOUNT_PAGE]),
    }
    return render_to_string("market/_account_cash.html", context, request=request)
