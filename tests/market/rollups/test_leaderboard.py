"""The leaderboard: the live intraday board, frozen boards, `me`, and the API."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from market.leaderboard import LEADERBOARD_SIZE, LeaderboardNotFound, equity_of, leaderboard_get
from market.services.auctions import market_catch_up
from market.services.rollups import rollup_run
from tests.market.conftest import TRADING_DAY
from tests.market.rollups.conftest import place

pytestmark = pytest.mark.django_db

NEXT_DAY = date(2026, 11, 19)


@pytest.fixture
def morning_trade(continuous_instrument, make_trader):
    """10:00: the owner of a new listing sells 10 @ $101.00 to a buyer who deposited $10,000."""
    instrument = continuous_instrument()
    buyer = make_trader(cash="10000.00", name="buyer")
    place(instrument.vehicle.owner, instrument, "sell", 10, "101.00")
    place(buyer, instrument, "buy", 10, "101.00")
    return instrument, instrument.vehicle.owner, buyer


def pnl_by_name(board):
    return {entry.display_name: entry.pnl_amount for entry in board.entries}


def test_intraday_board_is_live_from_the_current_marks(morning_trade, travel):
    instrument, owner, buyer = morning_trade
    travel("11:00")

    before = leaderboard_get(buyer)
    place(owner, instrument, "sell", 1, "110.00")
    place(buyer, instrument, "buy", 1, "110.00")
    after = leaderboard_get(buyer)

    assert (before.trading_date, before.is_final) == (TRADING_DAY, False)
    # owner: 1,010.00 - 10.10 fee in cash, 990 shares marked at 101.00, listing 100,000.00 in
    # buyer: deposit 10,000.00 in, paid 1,020.10 for 10 shares worth 1,010.00
    assert pnl_by_name(before) == {
        owner.username: Decimal("989.90"),
        buyer.username: Decimal("-10.10"),
    }
    # now marked at 110.00: 989 and 11 shares
    assert pnl_by_name(after) == {
        owner.username: Decimal("9898.80"),
        buyer.username: Decimal("78.80"),
    }
    assert (after.me.rank, after.me.pnl_amount, after.me.pnl_percent) == (
        2,
        Decimal("78.80"),
        Decimal("0.79"),
    )
    assert equity_of([owner.pk, buyer.pk]) == {
        owner.pk: Decimal("109898.80"),
        buyer.pk: Decimal("10078.80"),
    }
    assert equity_of() == equity_of([owner.pk, buyer.pk])


def test_live_streak_builds_on_the_frozen_previous_day(morning_trade, travel):
    instrument, owner, buyer = morning_trade
    travel("16:01")
    market_catch_up()
    rollup_run()
    travel("10:00", NEXT_DAY)
    market_catch_up()
    place(owner, instrument, "sell", 1, "102.00")
    place(buyer, instrument, "buy", 1, "102.00")

    board = leaderboard_get(owner)

    assert (board.trading_date, board.is_final) == (NEXT_DAY, False)
    assert (board.me.rank, board.me.streak) == (1, 2)
    # 989 shares up 1.00 each, and 1 sold at 102.00 less 1.02: 101.00 of equity became 100.98
    assert board.me.pnl_amount == Decimal("988.98")
    assert board.me.badges == ("first_trade", "top_10", "liquidity_provider")


def test_me_is_shown_with_its_rank_outside_the_top_50(morning_trade, make_trader, travel):
    travel("11:00")
    crowd = [make_trader(cash="100.00") for _ in range(LEADERBOARD_SIZE + 5)]
    me = crowd[-1]

    board = leaderboard_get(me)

    assert len(board.entries) == LEADERBOARD_SIZE
    assert me.pk not in {entry.user_id for entry in board.entries}
    # the owner gained, the buyer lost; nobody in the crowd did either: ties go to the user id
    assert board.me.rank == 1 + LEADERBOARD_SIZE + 5
    assert board.me.pnl_amount == Decimal("0.00")


def test_frozen_board_takes_four_queries_with_me_outside_the_top(
    morning_trade, make_trader, travel, django_assert_num_queries
):
    crowd = [make_trader(cash="100.00") for _ in range(LEADERBOARD_SIZE + 5)]
    travel("16:01")
    market_catch_up()
    rollup_run()

    with django_assert_num_queries(4):
        board = leaderboard_get(crowd[-1], date=TRADING_DAY)

    assert board.is_final
    assert [entry.rank for entry in board.entries] == list(range(1, LEADERBOARD_SIZE + 1))
    assert board.me.rank == 1 + LEADERBOARD_SIZE + 5


def test_live_board_takes_twelve_queries_when_the_previous_day_is_frozen(
    morning_trade, make_trader, travel, django_assert_num_queries
):
    _, owner, _ = morning_trade
    for _ in range(20):
        make_trader(cash="100.00")
    travel("16:01")
    market_catch_up()
    rollup_run()
    travel("11:00", NEXT_DAY)
    market_catch_up()

    with django_assert_num_queries(12):
        board = leaderboard_get(owner)

    assert (board.trading_date, board.is_final, len(board.entries)) == (NEXT_DAY, False, 22)


def test_a_day_without_a_frozen_board_is_not_found_unless_it_is_today(morning_trade):
    _, owner, _ = morning_trade

    today = leaderboard_get(owner, date=TRADING_DAY)
    with pytest.raises(LeaderboardNotFound):
        leaderboard_get(owner, date=date(2026, 11, 17))

    assert (today.trading_date, today.is_final) == (TRADING_DAY, False)


# --- the API ---------------------------------------------------------------------------------


def test_leaderboard_api_needs_a_signed_in_user(api_client):
    response = api_client.get(reverse("leaderboard"))

    assert response.status_code == 401


def test_leaderboard_api_serves_the_frozen_board_of_a_date(morning_trade, api_client, travel):
    _, owner, buyer = morning_trade
    travel("16:01")
    market_catch_up()
    rollup_run()
    api_client.force_authenticate(buyer)

    response = api_client.get(reverse("leaderboard"), {"date": "2026-11-18"})

    assert response.status_code == 200
    body = response.json()
    assert (body["date"], body["is_final"]) == ("2026-11-18", True)
    assert body["entries"][0] == {
        "rank": 1,
        "display_name": owner.username,
        "pnl": "989.90",
        "pnl_percent": "0.99",
        "streak": 1,
        "badges": ["first_trade", "top_10", "liquidity_provider"],
    }
    assert body["me"] == {
        "rank": 2,
        "display_name": buyer.username,
        "pnl": "-10.10",
        "pnl_percent": "-0.10",
        "streak": 0,
        "badges": ["first_trade"],
    }


def test_leaderboard_api_without_a_date_is_the_live_board(morning_trade, api_client):
    _, _, buyer = morning_trade
    api_client.force_authenticate(buyer)

    response = api_client.get(reverse("leaderboard"))

    assert response.status_code == 200
    assert (response.json()["date"], response.json()["is_final"]) == ("2026-11-18", False)


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "20261118", "2026-11-18T00:00"])
def test_leaderboard_api_refuses_a_malformed_date(morning_trade, api_client, value):
    api_client.force_authenticate(morning_trade[2])

    response = api_client.get(reverse("leaderboard"), {"date": value})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"date"}


@pytest.mark.parametrize("value", ["2026-11-17", "2026-11-19", "2026-11-26"])
def test_leaderboard_api_answers_404_for_a_day_without_a_frozen_board(
    morning_trade, api_client, value
):
    api_client.force_authenticate(morning_trade[2])

    response = api_client.get(reverse("leaderboard"), {"date": value})

    assert response.status_code == 404
    assert response.json()["code"] == "leaderboard_not_found"
