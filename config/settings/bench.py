"""`make bench`: the production settings, served over plain HTTP on the loopback.

Everything that shapes the measured work stays as in production (PostgreSQL, Redis, the
channel layer, DRF, the middleware, DEBUG off); only what needs TLS in front goes: the HTTPS
redirect, HSTS and the secure-only cookies. scripts/run_bench.py sets DATABASE_URL, REDIS_URL and
a throwaway SECRET_KEY.
"""

from typing import cast

from config.env import env
from config.settings.production import *  # noqa: F403
from config.settings.production import REST_FRAMEWORK

DEBUG = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
SECURE_HSTS_PRELOAD = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Each of the load generator's traders sends far more orders than a person would: the throttles
# still count every request (their cache round trips are part of the measured work), and refuse
# none unless the environment says otherwise.
_rates = cast(dict[str, str], REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **_rates,
        "orders": env("THROTTLE_ORDERS_RATE", default="1000000/minute"),
        "cancels": env("THROTTLE_CANCELS_RATE", default="1000000/minute"),
    },
}
