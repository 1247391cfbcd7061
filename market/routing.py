"""WebSocket routes (MARKET_RULES section 9, docs/realtime.md)."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from market.consumers import InstrumentConsumer, MeConsumer, TokenAuthMiddleware
from market.relay import register_with_clockwork

websocket_urlpatterns = [
    # Public: no session or user. The session middleware would otherwise wrap every send of
    # every client (to save a session that never changes), a real cost with a thousand clients.
    path("ws/instruments/<str:symbol>/", InstrumentConsumer.as_asgi()),
    # Session cookie, or ?token= for programs (market.consumers.TokenAuthMiddleware).
    path("ws/me/", AuthMiddlewareStack(TokenAuthMiddleware(MeConsumer.as_asgi()))),
]

# Embedded mode: the clockwork thread of the process that serves the streams also sweeps the
# outbox (production: Celery beat runs market.relay.relay_sweep_task).
register_with_clockwork()
