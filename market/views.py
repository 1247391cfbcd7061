"""The market's pages: the overview, the order ticket, listing a vehicle, my orders, the
portfolio, the ledger, the leaderboard, and the clock the countdowns ask at each transition.

Each view parses input, checks who asks, calls selectors or one service, and renders. The
vehicle page's trading tabs and the account page's cash section are `market.page_sections`.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import form_add_domain_error
from accounts.models import User
from config.errors import DomainError, NotFound, PermissionDenied
from market import selectors
from market.calendar import get_calendar
from market.forms import ListingForm, OrderForm
from market.leaderboard import LeaderboardNotFound, leaderboard_get
from market.models import OPEN_STATUSES, Instrument
from market.page_sections import (
    json_ready,
    listing_initial,
    market_clock,
    order_ticket_context,
)
from market.page_selectors import cover_urls, sparklines
from market.services.listings import instrument_list
from market.services.orders import order_cancel, order_place
from vehicles.selectors import vehicle_get

ORDERS_PER_PAGE = 25
LEDGER_PER_PAGE = 50


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _instrument_or_404(symbol: str) -> Instrument:
    try:
        return selectors.instrument_get(symbol=symbol)
    except NotFound as error:
        raise Http404(error.detail) from error


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- the overview -----------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Every listed vehicle with its ticker and the day's sparkline; the market's phase and
    the countdown to its next transition. Queries: the tickers (1, 2 in a call phase), the
    covers (1), the sparklines (1), whatever the number of instruments. The sparklines show
    the latest session that has opened: during the pre-open, the day just closed."""
    state = market_clock()
    tickers = selectors.instruments_with_tickers()
    covers = cover_urls(row["vehicle_id"] for row in tickers)
    day = get_calendar().last_open(state["market_now"]) or state["trading_date"]
    lines = sparklines((row["id"] for row in tickers), trading_date=day)
    rows = [
        {**row, "cover_url": covers[row["vehicle_id"]], "sparkline": lines.get(row["id"], [])}
        for row in tickers
    ]
    context = {"rows": rows, "clock": state, "sparkline_date": day}
    return render(request, "market/home.html", context)


@require_GET
def clock_json(request: HttpRequest) -> JsonResponse:
    """The market's phase and its next transition (a real instant), for the countdowns."""
    state = market_clock()
    return JsonResponse(
        {
            "phase": state["phase"],
            "phase_label": state["phase_label"],
            "trading_date": state["trading_date"].isoformat(),
            "next_kind": state["next_kind"],
            "next_label": state["next_label"],
            "next_at": state["next_at"].isoformat(),
            "server_now": state["server_now"].isoformat(),
        }
    )


@require_GET
def instrument_page(request: HttpRequest, symbol: str) -> HttpResponse:
    """`/market/<SYMBOL>/`: the instrument lives on its vehicle's page."""
    instrument = _instrument_or_404(symbol)
    return redirect(reverse("vehicles:detail", args=[instrument.vehicle_id]) + "#trading")


# --- orders -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def order_ticket(request: HttpRequest, symbol: str) -> HttpResponse:
    """The order form as a page of its own: where it posts without JavaScript, and where a
    quick-sell link lands to be confirmed (`?side=sell&quantity=..&price=..&confirm=1`)."""
    instrument = _instrument_or_404(symbol)
    if request.method == "POST":
        form = OrderForm(request.POST, auto_id="order-%s")
        if form.is_valid():
            try:
                order = order_place(
                    user_id=_user(request).pk, symbol=instrument.symbol, **form.order_arguments()
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    f"Order #{order.pk} placed: {order.side} {order.quantity} {instrument.symbol}"
                    f"{f' at ${order.price}' if order.price is not None else ' at the market'}"
                    f" ({order.get_status_display().lower()}).",
                )
                return redirect(_safe_next(request, reverse("market:orders")))
    else:
        initial = {
            key: request.GET[key]
            for key in ("side", "type", "quantity", "price", "time_in_force")
            if key in request.GET
        }
        form = OrderForm(initial=initial, auto_id="order-%s")
    ticket = order_ticket_context(request, instrument=instrument, form=form)
    context = {
        **ticket,
        "ticket_config": {
            "symbol": instrument.symbol,
            "fees": ticket["fees"],
            "ticker": json_ready(ticket["ticker"]),
        },
        "instrument": instrument,
        "is_confirming": request.GET.get("confirm") == "1" or request.POST.get("confirm") == "1",
        "next": _safe_next(request, ""),
    }
    return render(request, "market/order.html", context)


@login_required
@require_GET
def holdings_fragment(request: HttpRequest, symbol: str) -> HttpResponse:
    """The vehicle page's Portfolio tab alone, re-fetched when the private stream reports a
    change to the user's orders, cash or positions."""
    instrument = _instrument_or_404(symbol)
    context = {
        **order_ticket_context(request, instrument=instrument),
        "instrument": instrument,
        "open_orders": list(
            selectors.orders_for(request.user, status="open").filter(instrument=instrument)
        ),
        "next": reverse("vehicles:detail", args=[instrument.vehicle_id]) + "#portfolio",
    }
    return render(request, "market/_holdings.html", context)


@login_required
@require_GET
def my_orders(request: HttpRequest) -> HttpResponse:
    """Open orders (all of them) and the history, newest first, a page at a time."""
    user = _user(request)
    history = selectors.orders_for(user).exclude(status__in=OPEN_STATUSES)
    page = Paginator(history, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "open_orders": list(selectors.orders_for(user, status="open")),
        "page": page,
        "history": page.object_list,
    }
    return render(request, "market/orders.html", context)


@login_required
@require_POST
def order_cancel_view(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        order = order_cancel(user_id=_user(request).pk, order_id=order_id)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, f"Order #{order.pk} is cancelled.")
    return redirect(_safe_next(request, reverse("market:orders")))


# --- listing ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def listing_page(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    """Start trading: the owner lists the vehicle. A page of its own for errors and for
    browsers without JavaScript; the vehicle page shows the same form in its market section."""
    try:
        vehicle = vehicle_get(vehicle_id=vehicle_id)
    except NotFound as error:
        raise Http404(error.detail) from error
    if vehicle.owner_id != request.user.pk:
        raise HttpForbidden("Only the vehicle's owner can list it.")
    if Instrument.objects.filter(vehicle_id=vehicle.pk).exists():
        return redirect(vehicle)
    if request.method == "GET":
        form = ListingForm(initial=listing_initial(vehicle), auto_id="listing-%s")
        return render(request, "market/listing.html", {"vehicle": vehicle, "form": form})
    form = ListingForm(request.POST, auto_id="listing-%s")
    if form.is_valid():
        try:
            instrument = instrument_list(
                user_id=_user(request).pk,
                vehicle=vehicle,
                symbol=form.cleaned_data["symbol"],
                total_shares=form.cleaned_data["total_shares"],
                listing_price=form.cleaned_data["listing_price"],
            )
        except PermissionDenied as error:
            raise HttpForbidden(error.detail) from error
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            messages.success(
                request,
                f"{vehicle} is listed as {instrument.symbol}: {instrument.total_shares:,} shares "
                f"are yours. Orders collect until the opening auction on "
                f"{instrument.first_trading_date:%A, %B} {instrument.first_trading_date.day}.",
            )
            return redirect(reverse("vehicles:detail", args=[vehicle.pk]) + "#trading")
    return render(request, "market/listing.html", {"vehicle": vehicle, "form": form})


# --- portfolio, ledger, leaderboard -----------------------------------------------------------


@login_required
@require_GET
def portfolio(request: HttpRequest) -> HttpResponse:
    """Holdings with P&L, marked at the reference price; quick-sell at the best bid."""
    user = _user(request)
    holdings = selectors.portfolio_get(user)
    tickers = {row["symbol"]: row for row in selectors.instruments_with_tickers()}
    positions = [{**row, "ticker": tickers.get(row["symbol"])} for row in holdings["positions"]]
    context = {
        "positions": positions,
        "totals": holdings["totals"],
        "account": selectors.account_summary(user),
    }
    return render(request, "market/portfolio.html", context)


@login_required
@require_GET
def ledger(request: HttpRequest) -> HttpResponse:
    """Every movement of the user's cash, newest first, a page at a time."""
    page = Paginator(selectors.ledger_for(_user(request)), LEDGER_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "market/ledger.html", {"page": page, "entries": page.object_list})


@require_GET
def leaderboard(request: HttpRequest) -> HttpResponse:
    """The day's top traders by P&L, and the viewer's own rank."""
    day: date | None = None
    if request.GET.get("date"):
        try:
            day = date.fromisoformat(request.GET["date"])
        except ValueError:
            messages.error(request, "Dates look like 2026-11-18: showing today's board.")
    try:
        board = leaderboard_get(request.user, date=day)
    except LeaderboardNotFound as error:
        context: dict[str, Any] = {"board": None, "board_missing": error.detail, "date": day}
    else:
        context = {"board": board, "date": board.trading_date}
    return render(request, "market/leaderboard.html", context)
