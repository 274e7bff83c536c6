"""Page tests render templates with DEBUG off, as in production, but without a collectstatic manifest."""

import pytest

PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    settings.STORAGES = PLAIN_STATIC


@pytest.fixture
def fake_broker(monkeypatch):
    """Records what would be sent to the queue, or refuses like a dead broker (`.down = True`)."""
    from simulations import dispatch
    from simulations.tests.conftest import FakeBroker

    fake = FakeBroker()
    monkeypatch.setattr(dispatch, "_publish", fake.publish)
    return fake
