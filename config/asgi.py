"""HTTP and WebSocket entry point (uvicorn, daphne).

HTTP requests run Django's WSGI handler on a pool of threads (a2wsgi); WebSockets run Channels'
async consumers. Every view is synchronous (pages render templates, the order path waits for its
batch), and Django's ASGI handler runs a synchronous view's middleware by passing each request
between the event loop and a thread about a dozen times (once per middleware call). That cost
more CPU than most views: the empty request went from 196 to 600 per second on one worker, an
order from 19.7 to 14 ms of web CPU (docs/benchmarks.md, change 26).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_wsgi_app = get_wsgi_application()

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from config.memory import tune_garbage_collector  # noqa: E402
from market.broadcast import BindEventLoop  # noqa: E402
from market.calendar import get_calendar  # noqa: E402
from market.routing import websocket_urlpatterns  # noqa: E402

# BindEventLoop: the real-time relay sends and schedules on the server's loop (market.broadcast).
application = BindEventLoop(
    ProtocolTypeRouter(
        {
            # The threads also hold the requests that wait for their order batch, so there are
            # more of them than database connections (market/services/sequencer.py).
            # (django-stubs types the handler's answer as a response, not the bytes it yields.)
            "http": WSGIMiddleware(
                django_wsgi_app,  # type: ignore[arg-type]
                workers=settings.WEB_THREADS,
            ),
            "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
        }
    )
)

# The views load with the URLconf, and the calendar its holiday rules (about 130 ms of imports),
# otherwise at the first request: before the freeze.
get_resolver().url_patterns  # noqa: B018
get_calendar()
tune_garbage_collector()
