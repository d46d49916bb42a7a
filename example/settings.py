"""Settings of the example project: SQLite, the admin, the library and a "my billing" page.

``make demo`` (``example/demo.py``) sets the ``EXAMPLE_*`` variables; ``STRIPE_API_KEY`` and
``STRIPE_WEBHOOK_SECRET`` are yours when you point the example at real Stripe (test mode).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("EXAMPLE_SECRET_KEY", "example-only-not-secret")
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "example.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "stripe_integrations",
    "example",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # example/*.sqlite3 is gitignored; make demo uses a fresh file in a temp folder.
        "NAME": os.environ.get("EXAMPLE_DB", str(BASE_DIR / "demo.sqlite3")),
        # Webhook deliveries are applied by a worker thread while requests are served.
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}

STATIC_URL = "/static/"
LOGIN_URL = "admin:login"

STRIPE_CONFIG = {
    # make demo runs localstripe and sets EXAMPLE_STRIPE_API_BASE; any sk_test_ key works there.
    "API_KEY": os.environ.get("STRIPE_API_KEY") or "sk_test_localstripe",
    "WEBHOOK_SECRETS": [
        s
        for s in (os.environ.get("STRIPE_WEBHOOK_SECRET"), os.environ.get("EXAMPLE_WEBHOOK_SECRET"))
        if s
    ],
    # Events are applied in-process by a worker thread after the webhook's response (the default).
    "EVENT_BACKEND": "thread",
}
if os.environ.get("EXAMPLE_STRIPE_API_BASE"):
    STRIPE_CONFIG["API_BASE"] = os.environ["EXAMPLE_STRIPE_API_BASE"]
if os.environ.get("EXAMPLE_EVENT_MAX_ATTEMPTS"):
    STRIPE_CONFIG["EVENT_MAX_ATTEMPTS"] = int(os.environ["EXAMPLE_EVENT_MAX_ATTEMPTS"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "short": {
            "()": "example.logs.OneLineFormatter",
            "format": "[{name}] {levelname}: {message}",
            "style": "{",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "short"}},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # One line per failed event attempt, without the traceback (the admin shows it).
        "stripe_integrations": {"handlers": ["console"], "level": "WARNING"},
    },
}
