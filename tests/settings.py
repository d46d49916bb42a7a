"""Settings for the library's own test suite. ``DB=postgres`` selects PostgreSQL."""

import os

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "stripe_integrations",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

PG_TEST_NAME = os.environ.get("PGTESTDATABASE", "test_stripe_integrations")

if os.environ.get("DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PGDATABASE", "postgres"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": PG_TEST_NAME},
        }
    }
    if os.environ.get("SI_USE_TEST_DATABASE"):
        # A worker process started by a test uses the test session's database.
        DATABASES["default"]["NAME"] = PG_TEST_NAME
else:
    SQLITE_TEST_NAME = os.environ.get(
        "SI_SQLITE_TEST_NAME", os.path.join(os.path.dirname(__file__), "test-db.sqlite3")
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(os.path.dirname(__file__), "db.sqlite3"),
            "TEST": {"NAME": SQLITE_TEST_NAME},
        }
    }
    if os.environ.get("SI_USE_TEST_DATABASE"):
        # A worker process started by a test uses the test session's database file.
        DATABASES["default"]["NAME"] = SQLITE_TEST_NAME

STRIPE_CONFIG = {
    "API_KEY": "sk_test_library_tests",
    "WEBHOOK_SECRETS": ["whsec_test_secret", "whsec_rotated_secret"],
    # Tests process events in the caller's thread and retry at once; tests of the thread and
    # task backends override this.
    "EVENT_BACKEND": "immediate",
    "EVENT_RETRY_DELAY": 0,
}
if os.environ.get("SI_STRIPE_API_BASE"):
    STRIPE_CONFIG["API_BASE"] = os.environ["SI_STRIPE_API_BASE"]
if os.environ.get("SI_EVENT_LEASE_SECONDS"):
    STRIPE_CONFIG["EVENT_LEASE_SECONDS"] = float(os.environ["SI_EVENT_LEASE_SECONDS"])
if os.environ.get("SI_EVENT_BACKEND"):
    STRIPE_CONFIG["EVENT_BACKEND"] = os.environ["SI_EVENT_BACKEND"]

CELERY_BROKER_URL = os.environ.get("SI_CELERY_BROKER", "redis://127.0.0.1:6379/15")
CELERY_TASK_ALWAYS_EAGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["null"], "level": "WARNING"},
}
