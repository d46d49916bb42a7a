"""Minimal Django site running django-stripe-integrations for the webhook benchmark.

Run only by ``bench/_ours.py`` in the project's ``.venv``. The database comes from
``BENCH_DB`` (sqlite|postgres), ``BENCH_SQLITE_PATH`` / ``BENCH_PG_NAME``; ``BENCH_API_BASE``
points the library at the local stand-in Stripe (which counts calls: there should be none).
"""

import json
import os

from _common import COMMON_SETTINGS, database_settings

SECRET_KEY = "bench-only-not-secret"
DEBUG = COMMON_SETTINGS["DEBUG"]
ALLOWED_HOSTS = COMMON_SETTINGS["ALLOWED_HOSTS"]
USE_TZ = COMMON_SETTINGS["USE_TZ"]
TIME_ZONE = COMMON_SETTINGS["TIME_ZONE"]
DEFAULT_AUTO_FIELD = COMMON_SETTINGS["DEFAULT_AUTO_FIELD"]
MIDDLEWARE = COMMON_SETTINGS["MIDDLEWARE"]
LOGGING = COMMON_SETTINGS["LOGGING"]
ROOT_URLCONF = "ours_site.urls"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "stripe_integrations",
]

DATABASES = {"default": database_settings()}

STRIPE_CONFIG = {
    "API_KEY": "sk_test_benchOnlyNotARealKey000000000",
    "WEBHOOK_SECRETS": ["whsec_bench"],
    # The view stores the event as pending and enqueues nothing: processing is deferred.
    "EVENT_BACKEND": "manual",
}
if os.environ.get("BENCH_API_BASE"):
    STRIPE_CONFIG["API_BASE"] = os.environ["BENCH_API_BASE"]
# bench/events.py: its STRIPE_CONFIG, shared with the Celery workers it starts.
if os.environ.get("BENCH_STRIPE_CONFIG"):
    STRIPE_CONFIG = json.loads(os.environ["BENCH_STRIPE_CONFIG"])
CELERY_BROKER_URL = os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/14")
