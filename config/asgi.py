"""HTTP and WebSocket entry point (daphne, uvicorn)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from market.broadcast import BindEventLoop  # noqa: E402
from market.routing import websocket_urlpatterns  # noqa: E402

# BindEventLoop: the real-time relay sends and schedules on the server's loop (market.broadcast).
application = BindEventLoop(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
        }
    )
)
