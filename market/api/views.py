"""The market's REST endpoints (MARKET_RULES 10). Each parses input, checks who is asking, calls
one service or selector and renders. Market data is public; accounts, orders and portfolios are
the caller's own (401 without credentials; another user's order is 404, never 403)."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from accounts.api.serializers import ApiErrorOutput
from accounts.models import User
from config.api import JSONParser
from config.pagination import Pagination
from market import selectors
from market.api.serializers import (
    AccountOutput,
    AuctionOutput,
    BarOutput,
    BarsQuery,
    BookOutput,
    BookQuery,
    InstrumentListInput,
    InstrumentOutput,
    LedgerEntryOutput,
    OrderOutput,
    OrderPlaceInput,
    OrdersQuery,
    PortfolioOutput,
    TradeOutput,
    TradesQuery,
)
from market.api.throttles import OrderCancelThrottle, OrderPlaceThrottle
from market.services.listings import instrument_list
from market.services.orders import order_cancel, order_place
from vehicles.selectors import vehicle_get

ERROR_400 = OpenApiResponse(ApiErrorOutput, description="Invalid input, field by field.")
ERROR_401 = OpenApiResponse(ApiErrorOutput, description="Not authenticated.")
ERROR_403 = OpenApiResponse(ApiErrorOutput, description="Not allowed.")
ERROR_404 = OpenApiResponse(ApiErrorOutput, description="Unknown, or not yours.")
ERROR_409 = OpenApiResponse(
    ApiErrorOutput,
    description="Conflicts with the market's state: halted or delisted instrument, self-trade, "
    "insufficient cash or shares, order already closed, client_order_id reused, too many "
    "open orders.",
)
ERROR_429 = OpenApiResponse(
    ApiErrorOutput, description="Too many requests; Retry-After says how many seconds to wait."
)
SYMBOL = OpenApiParameter("symbol", str, OpenApiParameter.PATH, description="e.g. PORS91173")
MARKET_TAG = ["market data"]


def paginated(
    view: APIView, queryset: QuerySet[Any], serializer_class: type[Serializer]
) -> Response:
    """One page of `queryset` in the `{count, next, previous, results}` envelope."""
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def _user_id(request: Request) -> int:
    """The signed-in caller's id (the views that use it require authentication)."""
    return int(cast(User, request.user).pk)


def parse(serializer_class: type[Serializer], data: Any) -> dict[str, Any]:
    """Validated input, or a 400 naming each bad field."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- account --------------------------------------------------------------------------------


class AccountApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="account_retrieve",
        tags=["account"],
        summary="Your cash: balance, reserved, available; and equity",
        responses={200: AccountOutput, 401: ERROR_401},
    )
    def get(self, request: Request) -> Response:
        return Response(AccountOutput(selectors.account_summary(request.user)).data)


class LedgerApi(APIView):
    # An APIView pages by hand (`paginated`); this tells the schema the answer is a page.
    pagination_class = Pagination
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="account_ledger_list",
        tags=["account"],
        summary="Your ledger entries, newest first",
        responses={200: LedgerEntryOutput(many=True), 401: ERROR_401},
    )
    def get(self, request: Request) -> Response:
        return paginated(self, selectors.ledger_for(request.user), LedgerEntryOutput)


class PortfolioApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="portfolio_retrieve",
        tags=["account"],
        summary="Your positions marked at their reference prices, with P&L and totals",
        responses={200: PortfolioOutput, 401: ERROR_401},
    )
    def get(self, request: Request) -> Response:
        return Response(PortfolioOutput(selectors.portfolio_get(request.user)).data)


# --- listing --------------------------------------------------------------------------------


class VehicleListingApi(APIView):
    permission_classes = [IsAuthenticated]
    # JSON only: the share count is a JSON integer, which no form field can carry.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="vehicles_list_for_trading",
        tags=["vehicles"],
        summary="Start trading your vehicle: list it as an instrument",
        description="You receive every share at the listing price. The instrument first "
        "trades in the next opening auction.",
        request=InstrumentListInput,
        responses={
            201: InstrumentOutput,
            400: ERROR_400,
            401: ERROR_401,
            403: OpenApiResponse(ApiErrorOutput, description="Not the vehicle's owner."),
            404: OpenApiResponse(ApiErrorOutput, description="No such vehicle."),
            409: OpenApiResponse(ApiErrorOutput, description="Already listed."),
        },
    )
    def post(self, request: Request, vehicle_id: int) -> Response:
        vehicle = vehicle_get(vehicle_id=vehicle_id)
        data = parse(InstrumentListInput, request.data)
        instrument = instrument_list(user_id=_user_id(request), vehicle=vehicle, **data)
        output = InstrumentOutput(selectors.instrument_ticker_get(symbol=instrument.symbol))
        return Response(output.data, status=status.HTTP_201_CREATED)


# --- market data ----------------------------------------------------------------------------


class InstrumentListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="instruments_list",
        tags=MARKET_TAG,
        summary="Every instrument with its ticker (public)",
        responses={200: InstrumentOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(InstrumentOutput(selectors.instruments_with_tickers(), many=True).data)


class InstrumentDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="instruments_retrieve",
        tags=MARKET_TAG,
        summary="One instrument's ticker (public)",
        parameters=[SYMBOL],
        responses={200: InstrumentOutput, 404: ERROR_404},
    )
    def get(self, request: Request, symbol: str) -> Response:
        return Response(InstrumentOutput(selectors.instrument_ticker_get(symbol=symbol)).data)


class InstrumentBookApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="instruments_book",
        tags=MARKET_TAG,
        summary="The order book by price level, best first (public)",
        description="Market orders waiting for an auction have no price and no level.",
        parameters=[SYMBOL, BookQuery],
        responses={200: BookOutput, 400: ERROR_400, 404: ERROR_404},
    )
    def get(self, request: Request, symbol: str) -> Response:
        query = parse(BookQuery, request.query_params)
        instrument = selectors.instrument_get(symbol=symbol)
        return Response(BookOutput(selectors.book_depth(instrument, query["depth"])).data)


class InstrumentTradesApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="instruments_trades",
        tags=MARKET_TAG,
        summary="Recent trades, newest first (public)",
        parameters=[SYMBOL, TradesQuery],
        responses={200: TradeOutput(many=True), 400: ERROR_400, 404: ERROR_404},
    )
    def get(self, request: Request, symbol: str) -> Response:
        query = parse(TradesQuery, request.query_params)
        instrument = selectors.instrument_get(symbol=symbol)
        trades = selectors.trades_recent(instrument, query["limit"])
        return Response(TradeOutput(trades, many=True).data)


class InstrumentBarsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="instruments_bars",
        tags=MARKET_TAG,
        summary="One-minute OHLCV bars, oldest first (public)",
        description="Minutes without trades have no bar.",
        parameters=[SYMBOL, BarsQuery],
        responses={200: BarOutput(many=True), 400: ERROR_400, 404: ERROR_404},
    )
    def get(self, request: Request, symbol: str) -> Response:
        query = parse(BarsQuery, request.query_params)
        instrument = selectors.instrument_get(symbol=symbol)
        return Response(BarOutput(selectors.bars(instrument, query["minutes"]), many=True).data)


class InstrumentAuctionsApi(APIView):
    pagination_class = Pagination
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="instruments_auctions",
        tags=MARKET_TAG,
        summary="Auction records, newest first (public)",
        parameters=[SYMBOL],
        responses={200: AuctionOutput(many=True), 404: ERROR_404},
    )
    def get(self, request: Request, symbol: str) -> Response:
        instrument = selectors.instrument_get(symbol=symbol)
        return paginated(self, selectors.auctions_for(instrument), AuctionOutput)


# --- orders ---------------------------------------------------------------------------------


class OrderListApi(APIView):
    pagination_class = Pagination
    permission_classes = [IsAuthenticated]
    throttle_classes = [OrderPlaceThrottle]
    # JSON only: the quantity is a JSON integer, which no form field can carry.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_list",
        tags=["orders"],
        summary="Your orders, newest first",
        parameters=[OrdersQuery],
        responses={200: OrderOutput(many=True), 400: ERROR_400, 401: ERROR_401},
    )
    def get(self, request: Request) -> Response:
        query = parse(OrdersQuery, request.query_params)
        orders = selectors.orders_for(request.user, query.get("status"))
        return paginated(self, orders, OrderOutput)

    @extend_schema(
        operation_id="orders_create",
        tags=["orders"],
        summary="Place an order",
        description="201 with the order, fills that happened at once included. A retry with "
        "the same client_order_id and the same content answers 200 with the first order.",
        request=OrderPlaceInput,
        responses={
            201: OrderOutput,
            200: OpenApiResponse(OrderOutput, description="A replay of an earlier order."),
            400: ERROR_400,
            401: ERROR_401,
            404: OpenApiResponse(ApiErrorOutput, description="Unknown symbol."),
            409: ERROR_409,
            429: ERROR_429,
        },
    )
    def post(self, request: Request) -> Response:
        data = parse(OrderPlaceInput, request.data)
        placed = order_place(user_id=_user_id(request), **data)
        order = selectors.order_answer(user=request.user, order=placed)
        replayed = getattr(placed, "was_replayed", False)
        return Response(
            OrderOutput(order).data,
            status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
        )


class OrderDetailApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [OrderCancelThrottle]

    @extend_schema(
        operation_id="orders_retrieve",
        tags=["orders"],
        summary="One of your orders",
        responses={200: OrderOutput, 401: ERROR_401, 404: ERROR_404},
    )
    def get(self, request: Request, order_id: int) -> Response:
        return Response(OrderOutput(selectors.order_get(user=request.user, order_id=order_id)).data)

    @extend_schema(
        operation_id="orders_cancel",
        tags=["orders"],
        summary="Cancel one of your open orders",
        description="Releases its reservation at once; answers with the cancelled order.",
        responses={
            200: OrderOutput,
            401: ERROR_401,
            404: ERROR_404,
            409: ERROR_409,
            429: ERROR_429,
        },
    )
    def delete(self, request: Request, order_id: int) -> Response:
        cancelled = order_cancel(user_id=_user_id(request), order_id=order_id)
        return Response(
            OrderOutput(selectors.order_answer(user=request.user, order=cancelled)).data
        )
