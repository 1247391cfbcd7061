"""WebSocket routes (MARKET_RULES section 9)."""

websocket_urlpatterns: list = []
