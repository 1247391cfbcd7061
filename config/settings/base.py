"""Settings shared by every mode.

Embedded mode (the default): SQLite, in-process channel layer, the market clock in-process.
Production mode: DATABASE_URL (PostgreSQL) and REDIS_URL set: Redis channel layer, Celery.
"""

from decimal import Decimal

from config.env import BASE_DIR, env

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "accounts",
    "vehicles",
    "market",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"
# Threads per server process for HTTP requests (config/asgi.py). A request waiting for its order
# batch holds one, so a process takes at most this many requests at once; the rest queue.
WEB_THREADS = env.int("WEB_THREADS", default=100)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite by default (WAL, IMMEDIATE transactions so writers queue instead of failing);
# PostgreSQL when DATABASE_URL says so.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif env.bool("DATABASE_POOL", default=True):
    # A pool per process (psycopg_pool, Django's `pool` option): requests run on WEB_THREADS
    # threads, most of them waiting (for their order batch, which then gives its connection back,
    # market/services/sequencer.py), so a connection per thread (CONN_MAX_AGE) would keep
    # WEB_THREADS connections per process, mostly idle. CONN_HEALTH_CHECKS: the pool tests a
    # connection before lending it, so a PostgreSQL restart costs a reconnect, not an error.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if IS_POSTGRES:
    # Parameters sent apart from the statement, and a statement a connection has run
    # DATABASE_PREPARE_THRESHOLD times prepared: PostgreSQL then neither parses nor plans it
    # again, and the driver no longer quotes values into the text (docs/benchmarks.md, change
    # 44). Raw SQL names its columns: a prepared `SELECT t.*` fails once a migration adds a
    # column to t. Behind PgBouncer in transaction mode this needs its max_prepared_statements
    # (1.21+); DATABASE_PREPARE_THRESHOLD=0 prepares nothing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True,
        prepare_threshold=env.int("DATABASE_PREPARE_THRESHOLD", default=5) or None,
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Called inside the sign-up transaction: open the cash account, credit demo paper money.
ACCOUNTS_USER_REGISTERED_HOOKS: list[str] = ["market.services.ledger.cash_account_open"]
# The market's parts of other apps' pages (accounts/hooks.py): the vehicle page's trading tabs
# or "Start trading", and the account page's cash and ledger.
VEHICLES_DETAIL_SECTIONS: list[str] = ["market.page_sections.vehicle_market_section"]
ACCOUNTS_PAGE_SECTIONS: list[str] = ["market.page_sections.account_cash_section"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/New_York"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Redis: channel layer and Celery broker --------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# The Redis channel layer: channels_redis.pubsub.RedisPubSubChannelLayer publishes a group
# message once and fans it out in each process; channels_redis.core.RedisChannelLayer queues it
# once per consumer, several Redis round trips each, too slow for a thousand clients of one
# instrument. Pub/sub delivers at most once: the outbox fills what it loses (docs/realtime.md).
# A process receives every group message of its streams on ONE channel (market.broadcast.
# StreamHub), so that channel has room for a burst: an auction's relay sends one message to each
# trader's private stream at once (the layers other than pub/sub drop what does not fit).
CHANNEL_CAPACITY = 10_000
CHANNEL_LAYER_BACKEND = env(
    "CHANNEL_LAYER_BACKEND", default="channels_redis.pubsub.RedisPubSubChannelLayer"
)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": CHANNEL_LAYER_BACKEND,
            "CONFIG": {"hosts": [REDIS_URL], "capacity": CHANNEL_CAPACITY, "expiry": 10},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "config.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            # The cache counts throttles: a Redis that hangs must fail fast (config/throttling.py
            # then lets the request through), not hold every request.
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }
    CACHES = {"default": {"BACKEND": "config.cache.LocalMemoryCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without Redis there are no workers: tasks run in the caller's process (the embedded clock).
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "America/New_York"
CELERY_ENABLE_UTC = True

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.api.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        "config.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "COERCE_DECIMAL_TO_STRING": True,
    # config/throttling.py; counted in CACHES["default"] (Redis when REDIS_URL is set).
    "DEFAULT_THROTTLE_RATES": {
        # Per user: order placement and cancels (market/api/throttles.py).
        "orders": env("THROTTLE_ORDERS_RATE", default="600/minute"),
        "cancels": env("THROTTLE_CANCELS_RATE", default="600/minute"),
        # Per client address: sign-up and log-in, API and pages together (accounts/throttles.py).
        "auth": env("THROTTLE_AUTH_RATE", default="30/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Vehicle share exchange API",
    "DESCRIPTION": "Fractional shares of vehicles, traded in auctions and continuously.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from static/, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.document_unsupported_media_type",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- The market (MARKET_RULES.md) ------------------------------------------------------------
MARKET_CURRENCY = "USD"
MARKET_TICK_SIZE = Decimal("0.01")
MARKET_MIN_PRICE = Decimal("0.01")
MARKET_MAX_PRICE = Decimal("1000000.00")
MARKET_COMMISSION_RATE = Decimal(env("MARKET_COMMISSION_RATE", default="0.02"))
# The buyer's part of the commission; the seller pays the rest.
MARKET_COMMISSION_BUYER_SHARE = Decimal(env("MARKET_COMMISSION_BUYER_SHARE", default="0.5"))
MARKET_DEFAULT_TOTAL_SHARES = env.int("MARKET_DEFAULT_TOTAL_SHARES", default=1000)
MARKET_MAX_TOTAL_SHARES = 1_000_000
MARKET_DEFAULT_LISTING_PRICE = Decimal(env("MARKET_DEFAULT_LISTING_PRICE", default="100.00"))
MARKET_PROTECTION_RATE = Decimal(env("MARKET_PROTECTION_RATE", default="0.10"))
MARKET_GTC_MAX_DAYS = env.int("MARKET_GTC_MAX_DAYS", default=90)
MARKET_MAX_OPEN_ORDERS_PER_USER = env.int("MARKET_MAX_OPEN_ORDERS_PER_USER", default=200)
MARKET_TIME_ZONE = "America/New_York"
MARKET_OPEN_TIME = env("MARKET_OPEN_TIME", default="09:30")
MARKET_CLOSING_CALL_TIME = env("MARKET_CLOSING_CALL_TIME", default="15:55")
MARKET_CLOSE_TIME = env("MARKET_CLOSE_TIME", default="16:00")
# "NYSE" takes the holidays package's New York Stock Exchange calendar; or list ISO dates.
MARKET_HOLIDAYS = env.list("MARKET_HOLIDAYS", default=["NYSE"])
MARKET_DEMO_MODE = env.bool("MARKET_DEMO_MODE", default=True)
MARKET_DEMO_CASH = Decimal(env("MARKET_DEMO_CASH", default="10000.00"))
# Seconds a whole compressed trading day takes on the demo clock; 0 means the real clock.
MARKET_DEMO_DAY_SECONDS = env.int("MARKET_DEMO_DAY_SECONDS", default=0)
MARKET_DEMO_EPOCH = env("MARKET_DEMO_EPOCH", default="")  # ISO datetime+offset; "" = 00:00Z today
MARKET_DEMO_START_DATE = env("MARKET_DEMO_START_DATE", default="")  # ISO date; "" = epoch's date
MARKET_SIMULATOR_ENABLED = env.bool("MARKET_SIMULATOR_ENABLED", default=False)
# Simulated traders (docs/demo.md): actions per second, and a seed to replay them ("": random).
MARKET_SIMULATOR_RATE = env.int("MARKET_SIMULATOR_RATE", default=4)
MARKET_SIMULATOR_SEED = env("MARKET_SIMULATOR_SEED", default="")
# Run the market clock inside the web process (embedded mode); production uses Celery beat.
MARKET_EMBEDDED_CLOCK = env.bool("MARKET_EMBEDDED_CLOCK", default=not REDIS_URL)
# Real-time streams (docs/realtime.md): the book, ticker and indicative messages of an
# instrument go out at most once per this many milliseconds (the latest state always follows);
# published outbox events are kept this long for consumers that fill gaps.
MARKET_STREAM_STATE_INTERVAL_MS = env.int("MARKET_STREAM_STATE_INTERVAL_MS", default=100)
MARKET_OUTBOX_RETENTION_HOURS = env.int("MARKET_OUTBOX_RETENTION_HOURS", default=24)
