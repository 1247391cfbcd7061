"""The test suite: fast hashing, no embedded clock thread; the database comes from DATABASE_URL."""

from typing import cast

from config.env import env
from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR, REST_FRAMEWORK

# Tests hold one connection per thread, as Django's test cases expect: no pool (a test that kills
# work mid-transaction would hand the pool a connection still in it). `make bench` runs the pool.
if "pool" in DATABASES["default"].get("OPTIONS", {}):  # noqa: F405
    del DATABASES["default"]["OPTIONS"]["pool"]  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MARKET_EMBEDDED_CLOCK = False
MARKET_SIMULATOR_ENABLED = False
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default=BASE_DIR / ".test-media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Order entry is not throttled in practice: the clock stands still in most tests, so every
# request of the run would count in the same minute. tests/market/api/test_throttling.py lowers
# them.
_rates = cast(dict[str, str], REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {**_rates, "orders": "1000000/minute", "cancels": "1000000/minute"},
}
# A real Redis server for the tests that need one (make test starts it).
TEST_REDIS_URL = env("TEST_REDIS_URL", default="")
