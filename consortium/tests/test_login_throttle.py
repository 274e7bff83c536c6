"""Failed log-ins lock an account, and a client address, out for a while (django-axes)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client, override_settings

from tests import factories as f

pytestmark = pytest.mark.usefixtures("plain_static")

LIMIT = 5


def _try(client: Client, username: str, password: str, path: str = "/accounts/login/", address: str = "10.0.0.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def _fail(client: Client, username: str, times: int, **kwargs) -> None:
    """`times` wrong passwords: the one that reaches the limit is answered 429 already."""
    for number in range(1, times + 1):
        expected = 429 if number >= LIMIT else 200
        assert _try(client, username, "wrong-password", **kwargs).status_code == expected


@pytest.fixture
def alice(db):
    return f.UserFactory(username="alice")


def test_the_right_password_after_five_wrong_ones_is_refused_with_a_message(client, alice) -> None:
    _fail(client, "alice", LIMIT - 1)
    refused = _try(client, "alice", "wrong-password")
    assert refused.status_code == 429
    after = _try(client, "alice", f.PASSWORD)
    assert after.status_code == 429
    assert after["Retry-After"] == "900"
    page = after.content.decode()
    assert "Too many failed log-ins" in page and "15 minutes from now" in page
    assert 'name="password"' in page  # the log-in form itself, styled, not a bare 403 text
    assert "_auth_user_id" not in client.session


def test_four_wrong_passwords_still_let_the_right_one_in(client, alice) -> None:
    _fail(client, "alice", LIMIT - 1)
    assert _try(client, "alice", f.PASSWORD).status_code == 302


def test_the_lockout_is_a_database_row_that_a_new_client_meets(client, alice) -> None:
    """A restart loses nothing: the count lives in the database, not in a process."""
    _fail(client, "alice", LIMIT)
    attempt = AccessAttempt.objects.get(username="alice")
    assert attempt.failures_since_start == LIMIT
    assert _try(Client(), "alice", f.PASSWORD, address="10.9.9.9").status_code == 429


def test_staff_reset_unlocks_the_account(client, alice) -> None:
    _fail(client, "alice", LIMIT)
    call_command("axes_reset_username", "alice")
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert _try(client, "alice", f.PASSWORD).status_code == 302


def test_deleting_the_attempt_in_the_admin_unlocks_the_account(client, alice, admin_client) -> None:
    _fail(client, "alice", LIMIT)
    attempt = AccessAttempt.objects.get(username="alice")
    assert admin_client.get("/admin/axes/accessattempt/").status_code == 200
    deleted = admin_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert _try(client, "alice", f.PASSWORD).status_code == 302


def test_the_admin_log_in_is_locked_too(client, db) -> None:
    f.UserFactory(username="root", is_staff=True, is_superuser=True)
    for _ in range(LIMIT - 1):
        assert _try(client, "root", "wrong", path="/admin/login/").status_code == 200
    assert _try(client, "root", "wrong", path="/admin/login/").status_code == 429
    refused = _try(client, "root", f.PASSWORD, path="/admin/login/")
    assert refused.status_code == 429
    assert "Too many failed log-ins" in refused.content.decode()
    assert client.get("/admin/").status_code == 302  # still not signed in


def test_one_address_trying_many_accounts_is_locked_out_of_all(client, db) -> None:
    for number in range(LIMIT):
        f.UserFactory(username=f"user{number}")
        assert _try(client, f"user{number}", "wrong").status_code in (200, 429)
    bob = f.UserFactory(username="bob")
    assert _try(client, bob.username, f.PASSWORD).status_code == 429
    # Another address is not affected, and neither is bob's own count.
    assert _try(Client(), bob.username, f.PASSWORD, address="10.0.0.2").status_code == 302


def test_an_account_is_locked_from_every_address(db, alice) -> None:
    for number in range(LIMIT):
        _try(Client(), "alice", "wrong", address=f"10.1.0.{number}")
    assert _try(Client(), "alice", f.PASSWORD, address="10.1.0.200").status_code == 429


@override_settings(AXES_COOLOFF_TIME=None, LOGIN_COOLOFF_MINUTES=0)
def test_without_a_cool_off_the_page_sends_the_visitor_to_staff(client, alice) -> None:
    _fail(client, "alice", LIMIT - 1)
    refused = _try(client, "alice", "wrong")
    assert refused.status_code == 429
    assert not refused.has_header("Retry-After")
    assert "Ask a staff member" in refused.content.decode()
    assert "from now" not in refused.content.decode()


def test_test_client_login_and_force_login_keep_working(client, alice) -> None:
    """authenticate() without a request (the test client, a shell) is no HTTP attempt: not counted, not refused."""
    assert client.login(username="alice", password=f.PASSWORD)
    client.logout()
    client.force_login(alice)
    assert client.get("/dashboard/").status_code == 200
