"""Page tests render templates with DEBUG off, as in production, but without a collectstatic manifest."""

import pytest

# Runs started from the pages go to a recording stand-in for the broker (the runs tests own it).
from simulations.tests.conftest import fake_broker  # noqa: F401

PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    settings.STORAGES = PLAIN_STATIC
