"""WebSocket routes (MARKET_RULES section 9, docs/realtime.md)."""

from django.urls import path

from market.consumers import InstrumentConsumer, MeConsumer
from market.relay import register_with_clockwork

websocket_urlpatterns = [
    path("ws/instruments/<str:symbol>/", InstrumentConsumer.as_asgi()),
    path("ws/me/", MeConsumer.as_asgi()),
]

# Embedded mode: the clockwork thread of the process that serves the streams also sweeps the
# outbox (production: Celery beat runs market.relay.relay_sweep_task).
register_with_clockwork()
