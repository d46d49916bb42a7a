"""Minimal Django site running dj-stripe 2.11 for the webhook benchmark (our own code).

Run only by ``bench/_djstripe.py`` inside ``bench/.venv-djstripe``. The database comes from
``BENCH_DB`` (sqlite|postgres), ``BENCH_SQLITE_PATH`` / ``BENCH_PG_NAME``. Stripe's API base
is pointed at the local stand-in by ``_djstripe.py`` (``stripe.api_base``), not here:
dj-stripe's ``STRIPE_API_HOST`` is refused by its system checks when DEBUG is off.
"""

from _common import COMMON_SETTINGS, database_settings

SECRET_KEY = "bench-only-not-secret"
DEBUG = COMMON_SETTINGS["DEBUG"]
ALLOWED_HOSTS = COMMON_SETTINGS["ALLOWED_HOSTS"]
USE_TZ = COMMON_SETTINGS["USE_TZ"]
TIME_ZONE = COMMON_SETTINGS["TIME_ZONE"]
DEFAULT_AUTO_FIELD = COMMON_SETTINGS["DEFAULT_AUTO_FIELD"]
MIDDLEWARE = COMMON_SETTINGS["MIDDLEWARE"]
LOGGING = COMMON_SETTINGS["LOGGING"]
ROOT_URLCONF = "peers.djstripe_site.urls"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "djstripe",
]

DATABASES = {"default": database_settings()}

STRIPE_LIVE_MODE = False
STRIPE_TEST_SECRET_KEY = "sk_test_benchOnlyNotARealKey000000000"
# Verify the Stripe-Signature header locally (the other mode re-fetches every event from
# Stripe). 2.11 reads the mode and the secret from the WebhookEndpoint row; this setting is
# what its system check looks at.
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
