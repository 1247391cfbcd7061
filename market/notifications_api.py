"""`GET /api/v1/notifications/`: the user's own notifications, newest first (MARKET_RULES 10).

The same rows reach the private stream `/ws/me/` as `notification` messages when they are
written (docs/realtime.md). `?unread=true` lists only those not read yet.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from market.models import Notification
from market.services.notifications import notifications_for


class NotificationOutput(serializers.ModelSerializer):
    """`data` holds the details: ids, the symbol, amounts as decimal strings."""

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "text", "data", "created_at", "read_at"]
        read_only_fields = fields


class NotificationListApi(ListAPIView):
    serializer_class = NotificationOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", bool, description="Only notifications not read yet.")
        ]
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Notification]:
        unread = self.request.query_params.get("unread", "").lower() in ("1", "true", "yes")
        return notifications_for(user_id=self.request.user.pk, unread=unread)  # type: ignore[arg-type]
