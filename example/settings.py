"""Settings of the example project: SQLite, the library, and nothing else."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "example-only-not-secret"
DEBUG = True
USE_TZ = True
ROOT_URLCONF = "example.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "stripe_integrations",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", str(BASE_DIR / "demo.sqlite3")),
    }
}
STRIPE_CONFIG = {
    "API_KEY": os.environ.get("STRIPE_API_KEY", "sk_test_demo"),
    "WEBHOOK_SECRETS": ["whsec_demo"],
}
