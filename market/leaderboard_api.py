"""GET /api/v1/leaderboard/?date=YYYY-MM-DD (MARKET_RULES 7 and 10)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import ApiErrorOutput
from market.leaderboard import leaderboard_get


class LeaderboardQuery(serializers.Serializer):
    date = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])


class LeaderboardEntryOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    display_name = serializers.CharField()
    pnl = serializers.DecimalField(source="pnl_amount", max_digits=18, decimal_places=2)
    pnl_percent = serializers.DecimalField(max_digits=20, decimal_places=2)
    streak = serializers.IntegerField()
    badges = serializers.ListField(child=serializers.CharField())


class LeaderboardOutput(serializers.Serializer):
    date = serializers.DateField(source="trading_date")
    is_final = serializers.BooleanField(
        help_text="True once the nightly rollup has frozen the day; false for the live board."
    )
    entries = LeaderboardEntryOutput(many=True)
    me = LeaderboardEntryOutput(allow_null=True)


class LeaderboardApi(APIView):
    @extend_schema(
        operation_id="leaderboard_get",
        tags=["leaderboard"],
        summary="The day's top 50 by daily P&L, and your own row",
        description=(
            "Without `date`, today's board: live from the current marks until the nightly "
            "rollup freezes it (after the close and until the next open, the day just closed). "
            "`pnl_percent` is a percentage: `2.61` means 2.61 %."
        ),
        parameters=[
            OpenApiParameter("date", OpenApiTypes.DATE, description="A trading date, YYYY-MM-DD.")
        ],
        responses={
            200: LeaderboardOutput,
            400: OpenApiResponse(ApiErrorOutput, description="The date is not YYYY-MM-DD."),
            401: OpenApiResponse(ApiErrorOutput, description="Not signed in."),
            404: OpenApiResponse(
                ApiErrorOutput, description="No frozen board for that date, and it is not today."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        query = LeaderboardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        board = leaderboard_get(request.user, date=query.validated_data.get("date"))
        return Response(LeaderboardOutput(board).data)
