"""Django settings of our side of the backfill benchmarks (``bench/ingest.py``,
``bench/latency.py``, ``bench/faults.py``). The database comes from ``BENCH_DB``
(sqlite|postgres) and ``BENCH_SQLITE_PATH`` / ``BENCH_PG_NAME``, as in ``_common.py``."""

from _common import COMMON_SETTINGS, database_settings

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = COMMON_SETTINGS["DEFAULT_AUTO_FIELD"]
LOGGING = COMMON_SETTINGS["LOGGING"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "stripe_integrations",
]
DATABASES = {"default": database_settings()}
STRIPE_CONFIG = {
    "API_KEY": "sk_test_benchOnlyNotARealKey000000000",
    "EVENT_BACKEND": "manual",
}
