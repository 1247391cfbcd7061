"""The market's business errors: each has a code, an HTTP status and a clear message."""

from __future__ import annotations

from config.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied


class InstrumentNotFound(NotFound):
    code = "instrument_not_found"
    default_detail = "No instrument has the symbol {symbol}."


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_detail = "No such order."


class InvalidOrder(InvalidInput):
    code = "invalid_order"


class InsufficientCash(Conflict):
    code = "insufficient_cash"
    default_detail = "Insufficient cash: the order needs ${needed} but ${available} is available."


class InsufficientShares(Conflict):
    code = "insufficient_shares"
    default_detail = "Insufficient shares: the order sells {needed} but {available} are available."


class SelfTrade(Conflict):
    code = "self_trade"
    default_detail = (
        "This order would trade against your own resting order #{order_id}; "
        "cancel that order first."
    )


class MarketHalted(Conflict):
    code = "market_halted"
    default_detail = "Trading in {symbol} is halted: orders may be cancelled but none placed."


class InstrumentDelisted(Conflict):
    code = "instrument_delisted"
    default_detail = "{symbol} is delisted: it no longer trades."


class OrderNotOpen(Conflict):
    code = "order_not_open"
    default_detail = "Order #{order_id} is already {status}: nothing to cancel."


class IocOutsideContinuous(Conflict):
    code = "ioc_outside_continuous"
    default_detail = (
        "{symbol} is in a call phase: an immediate-or-cancel order can only trade in continuous "
        "trading. Use a day or gtc order to join the auction."
    )


class DuplicateClientOrderId(Conflict):
    code = "duplicate_client_order_id"
    default_detail = (
        "client_order_id {client_order_id} was already used for a different order (#{order_id})."
    )


class TooManyOpenOrders(Conflict):
    code = "too_many_open_orders"
    default_detail = "You have {limit} open orders, the most allowed; cancel some first."


class AlreadyListed(Conflict):
    code = "already_listed"
    default_detail = "This vehicle is already listed as {symbol}."


class SymbolTaken(InvalidInput):
    code = "symbol_taken"
    default_detail = "The symbol {symbol} is taken."


class NotVehicleOwner(PermissionDenied):
    code = "not_owner"
    default_detail = "Only the vehicle's owner can list it."


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


__all__ = [
    "AlreadyListed",
    "DomainError",
    "DuplicateClientOrderId",
    "InstrumentDelisted",
    "InstrumentNotFound",
    "InsufficientCash",
    "InsufficientShares",
    "InvalidAmount",
    "InvalidOrder",
    "IocOutsideContinuous",
    "MarketHalted",
    "NotVehicleOwner",
    "OrderNotFound",
    "OrderNotOpen",
    "SelfTrade",
    "SymbolTaken",
    "TooManyOpenOrders",
]
