"""The test suite: fast hashing, no embedded clock thread; the database comes from DATABASE_URL."""

from config.env import env
from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MARKET_EMBEDDED_CLOCK = False
MARKET_SIMULATOR_ENABLED = False
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default=BASE_DIR / ".test-media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# A real Redis server for the tests that need one (make test starts it).
TEST_REDIS_URL = env("TEST_REDIS_URL", default="")
