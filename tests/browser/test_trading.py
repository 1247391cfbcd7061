"""The market in a real browser: sign up, trade, watch another trader's order arrive live,
fill the order form from the book, cancel, list a vehicle, and every page on a phone.

The seeded market (tests/browser/seed.py): the owner's ALPHA, BRAVO (a resting ask at 105.00)
and CHARLIE in continuous trading, and an unlisted 1972 Ferrari Dino.
"""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.seed import OWNER

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "Quiet-Piano-4471"
_serial = itertools.count(1)


def sign_up(page: Page) -> str:
    username = f"trader{next(_serial)}{uuid.uuid4().hex[:6]}"
    page.goto("/accounts/signup/")
    page.locator("#id_username").fill(username)
    page.locator("#id_display_name").fill(f"Trader {username[-6:]}")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text(f"Welcome, Trader {username[-6:]}!")).to_be_visible()
    return username


def log_in_as_owner(page: Page) -> None:
    username, password, _ = OWNER
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="My account")).to_be_visible()


def open_instrument(page: Page, symbol: str) -> None:
    page.goto(f"/market/{symbol}/")
    expect(page.get_by_role("heading", name=f"Trading {symbol}")).to_be_visible()
    expect(page.locator("[data-stream-status]")).to_have_text("Live")


def place_limit(page: Page, side: str, quantity: int, price: str) -> None:
    page.locator(f'[data-open-order="{side}"]').click()
    form = page.locator("[data-order-form]")
    form.get_by_label("Quantity").fill(str(quantity))
    form.get_by_label("Limit price ($)").fill(price)
    form.get_by_role("button", name=re.compile(rf"^{side.capitalize()} ")).click()
    expect(form.locator("[data-order-status]")).to_contain_text("placed")


def test_a_new_trader_sees_their_order_in_the_book_and_a_crossing_trade_live(new_page, shoot):
    buyer = new_page()
    sign_up(buyer)
    open_instrument(buyer, "ALPHA")

    place_limit(buyer, "buy", 3, "93.33")

    buyer.get_by_role("tab", name="Order book").click()
    bid = buyer.locator('[data-book-side="bid"] .book-pick[data-price="93.33"]')
    expect(bid).to_be_visible()
    expect(bid.locator("xpath=ancestor::tr")).to_contain_text("3")

    seller = new_page()
    log_in_as_owner(seller)
    open_instrument(seller, "ALPHA")
    place_limit(seller, "sell", 3, "93.33")

    # The buyer's page, never reloaded: the trade, the new price, the emptied level.
    ticker = buyer.locator("[data-ticker]")
    expect(ticker.locator('[data-field="last_price"]')).to_have_text("93.33")
    expect(ticker.locator('[data-field="change"]')).to_contain_text("\u22126.67")
    expect(ticker.locator('[data-field="change"]')).to_have_class(re.compile(r"\bdown\b"))
    expect(bid).to_have_count(0)
    buyer.get_by_role("tab", name="Ticker").click()
    expect(buyer.locator("[data-trades] tr").first).to_contain_text("93.33")
    buyer.get_by_role("tab", name="Portfolio").click()
    expect(buyer.locator("#panel-portfolio")).to_contain_text("ALPHA")
    shoot(buyer, "vehicle-trading")


def test_choosing_a_book_level_fills_the_order_form_by_keyboard(new_page):
    page = new_page()
    sign_up(page)
    open_instrument(page, "BRAVO")

    page.get_by_role("tab", name="Ticker").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Order book")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-book")).to_be_visible()
    expect(page.locator("#panel-ticker")).to_be_hidden()
    ask = page.get_by_role("button", name="Buy at 105.00 (7 offered)")
    ask.focus()
    page.keyboard.press("Enter")

    form = page.locator("[data-order-form]")
    expect(form).to_be_visible()
    expect(form.get_by_label("Buy")).to_be_checked()
    expect(form.get_by_label("Limit price ($)")).to_have_value("105.00")
    expect(form.get_by_label("Quantity")).to_be_focused()
    form.get_by_label("Quantity").fill("2")
    # The preview, in cents: 2 x 105.00 = 210.00, the 1% fee 2.10, cash left 10,000 - 212.10.
    expect(form.locator('[data-preview="total"]')).to_have_text("$212.10")
    expect(form.locator('[data-preview="cash_left"]')).to_have_text("$9,787.90")


def test_server_errors_show_next_to_their_field(new_page, console):
    console.expected.append("status of 400")  # the refused order's response, logged by Chromium
    page = new_page()
    sign_up(page)
    open_instrument(page, "BRAVO")

    page.locator('[data-open-order="buy"]').click()
    form = page.locator("[data-order-form]")
    form.get_by_label("Quantity").fill("1")
    form.get_by_label("Limit price ($)").fill("50.005")
    form.get_by_role("button", name="Buy BRAVO").click()

    expect(form.locator("#order-price-error")).to_have_text(
        "The price 50.005 is not on the $0.01 tick."
    )
    expect(form.get_by_label("Limit price ($)")).to_have_attribute("aria-invalid", "true")


def test_a_trader_cancels_an_open_order_from_my_orders(new_page, shoot):
    page = new_page()
    sign_up(page)
    open_instrument(page, "BRAVO")
    place_limit(page, "buy", 2, "50.00")

    page.get_by_role("link", name="My orders").click()
    open_orders = page.locator("#open-orders")
    expect(open_orders).to_contain_text("BRAVO")
    shoot(page, "my-orders")
    open_orders.get_by_role("button", name=re.compile(r"^Cancel order #")).click()

    expect(page.get_by_role("status").filter(has_text="is cancelled")).to_be_visible()
    expect(page.locator("#open-orders")).to_contain_text("No open orders")
    expect(page.locator("#order-history")).to_contain_text("Cancelled")


def test_quick_sell_is_confirmed_before_it_is_sent(new_page):
    bidder = new_page()
    sign_up(bidder)
    open_instrument(bidder, "CHARLIE")
    place_limit(bidder, "buy", 2, "97.00")

    owner = new_page()
    log_in_as_owner(owner)
    open_instrument(owner, "CHARLIE")
    owner.get_by_role("tab", name="Portfolio").click()
    owner.get_by_role("link", name=re.compile(r"^Quick sell 1,000 at 97\.00")).click()

    dialog = owner.get_by_role("dialog", name="Confirm the sale")
    form = owner.locator("[data-order-form]")
    form.get_by_role("button", name="Sell CHARLIE").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Sell 1000 CHARLIE at $97.00?")
    dialog.get_by_role("button", name="Keep my shares").click()
    expect(form.locator("[data-order-status]")).to_have_text(
        "Not sent: the sale was not confirmed."
    )

    form.get_by_label("Quantity").fill("2")
    form.get_by_role("button", name="Sell CHARLIE").click()
    dialog.get_by_role("button", name="Sell now").click()
    expect(form.locator("[data-order-status]")).to_contain_text("filled")
    expect(bidder.locator('[data-ticker] [data-field="last_price"]')).to_have_text("97.00")


def test_the_owner_lists_a_vehicle_with_start_trading(new_page, shoot):
    page = new_page()
    log_in_as_owner(page)
    page.goto("/vehicles/?q=Dino")
    page.get_by_role("link", name="1972 Ferrari Dino 246 GT").click()
    start = page.locator("#trading")
    expect(start.get_by_role("heading", name="Start trading")).to_be_visible()
    shoot(page, "vehicle-start-trading")
    page.set_viewport_size({"width": 1280, "height": 900})

    expect(start.get_by_label("Symbol")).to_have_value("FERRDINO72")
    start.get_by_label("Total shares").fill("250")
    start.get_by_label("Listing price ($)").fill("40.00")
    start.get_by_role("button", name="Start trading").click()

    expect(page.get_by_text("is listed as FERRDINO72: 250 shares are yours")).to_be_visible()
    expect(page.get_by_role("heading", name="Trading FERRDINO72")).to_be_visible()
    expect(page.locator("[data-ticker] .phase-badge")).to_have_text("Pre-open (call)")


@pytest.mark.parametrize(
    ("path", "name", "signed_in"),
    [
        ("/", "home", True),
        ("/market/ALPHA/", "vehicle", True),
        ("/market/BRAVO/order/?side=sell&quantity=1&price=104.00&confirm=1", "order", True),
        ("/portfolio/", "portfolio", True),
        ("/orders/", "orders", True),
        ("/leaderboard/", "leaderboard", True),
        ("/accounts/me/", "account", True),
        ("/ledger/", "ledger", True),
        ("/", "home-anonymous", False),
        ("/market/BRAVO/", "vehicle-anonymous", False),
        ("/accounts/signup/", "signup", False),
    ],
)
def test_every_page_works_on_a_phone_without_console_errors(new_page, shoot, path, name, signed_in):
    page = new_page(width=375, height=812)
    if signed_in:
        sign_up(page)
    page.goto(path)
    expect(page.get_by_role("main")).to_be_visible()
    if "market/" in path and "order" not in path:
        expect(page.locator("[data-stream-status]")).to_have_text("Live")

    shoot(page, name)
