"""The order-entry workload: what a trading client sends to `POST /api/v1/orders/` and
`DELETE /api/v1/orders/{id}/`.

Every virtual client is one trader with its own API token. Traders are buyers or sellers
(alternately), so that no trader's orders can meet each other: the self-trade rule never
rejects, and the mix below is what reaches the book. Per request:

- 25% cancel one of the trader's open orders (chosen at random; it may have filled since,
  which the market answers with 409), or any time the trader already has 40 open orders;
- otherwise a new order of 1 to 10 shares:
  - 60% a limit order resting near the touch: 1 to 20 cents on the trader's own side of $100;
  - 25% a limit order crossing it: 1 to 10 cents through $100 (a tenth of them IOC);
  - 15% a market order.

`symbols`: one symbol (one hot instrument) or many (each order picks one at random).
The traders' open orders are remembered across runs (the same object drives every run).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from bench.loadgen import Call, Workload

CANCEL_SHARE = 0.25
RESTING_SHARE = 0.60
CROSSING_SHARE = 0.25
MAX_OPEN = 40
OPEN = ("open", "partially_filled")


class OrderMix(Workload):
    def __init__(self, traders: list[dict[str, Any]], mid_price: str = "100.00"):
        self.traders = traders
        self.mid = Decimal(mid_price)
        self.symbols: list[str] = []
        self.headers = [{"Authorization": f"Token {trader['token']}"} for trader in traders]
        self.open: list[dict[int, str]] = [{} for _ in traders]

    def use(self, symbols: list[str]) -> OrderMix:
        self.symbols = symbols
        return self

    def side(self, client: int) -> str:
        return "buy" if client % 2 == 0 else "sell"

    def next_call(self, client: int, rng: random.Random) -> Call:
        open_orders = self.open[client]
        if open_orders and (len(open_orders) >= MAX_OPEN or rng.random() < CANCEL_SHARE):
            order_id = rng.choice(list(open_orders))
            # Assume it is gone either way; the answer says which.
            del open_orders[order_id]
            return Call(
                "DELETE", f"/api/v1/orders/{order_id}/", "cancel", None, self.headers[client]
            )
        side = self.side(client)
        symbol = self.symbols[0] if len(self.symbols) == 1 else rng.choice(self.symbols)
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": side,
            "quantity": rng.randint(1, 10),
            "time_in_force": "day",
        }
        draw = rng.random()
        if draw < RESTING_SHARE:
            away = Decimal(rng.randint(1, 20)) / 100
            price = self.mid - away if side == "buy" else self.mid + away
            body.update(type="limit", price=str(price))
            kind = "place_resting"
        elif draw < RESTING_SHARE + CROSSING_SHARE:
            through = Decimal(rng.randint(1, 10)) / 100
            price = self.mid + through if side == "buy" else self.mid - through
            body.update(type="limit", price=str(price))
            if rng.random() < 0.1:
                body["time_in_force"] = "ioc"
            kind = "place_crossing"
        else:
            body.update(type="market")
            kind = "place_market"
        return Call("POST", "/api/v1/orders/", kind, body, self.headers[client])

    def on_answer(self, client: int, call: Call, status: int, data: Any) -> None:
        answered_open = isinstance(data, dict) and data.get("status") in OPEN
        if call.method == "POST" and status in (200, 201) and answered_open:
            self.open[client][int(data["id"])] = str(data.get("symbol", ""))
