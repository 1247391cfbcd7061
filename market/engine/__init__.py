"""The matching engine: a pure Python order book and call auction, with no Django imports.

Commands in, results out: no I/O, clock or randomness. The service layer loads the book, calls
the engine and persists what it returns (MARKET_RULES section 8).
"""

from .auction import AuctionResult, Match, indicative, uncross, uncross_at
from .book import OrderBook
from .orders import Fill, Order, SelfTradeError

__all__ = [
    "AuctionResult",
    "Fill",
    "Match",
    "Order",
    "OrderBook",
    "SelfTradeError",
    "indicative",
    "uncross",
    "uncross_at",
]
