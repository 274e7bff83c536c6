"""Settings for the test run: the production settings module with test-only environment defaults.

pytest-django imports the settings before any conftest.py runs, so the defaults live here rather
than in conftest. Tests run production-like (DEBUG off) minus the HTTPS redirect the test client
cannot follow.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DATA_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test"))

from consortium.settings import *  # noqa: F403
from consortium.settings import CACHES, STATIC_ROOT

# Tests clear the default cache; with REDIS_URL exported that would flush the broker's database.
# Tests of the Redis-backed cache point it at TEST_REDIS_URL themselves.
CACHES = {**CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"}}

# Factories create several users per test; the production hasher would dominate the run time.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# WhiteNoise warns on every request when its root is missing; tests that need the files collect them.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
