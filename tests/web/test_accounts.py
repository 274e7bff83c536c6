"""Accounts: sign-up, password change and password reset by email, with Django's own views and forms."""

import datetime
import re
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core import mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests import factories as f

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "plural-tundra-magnet-42"
User = get_user_model()


def signup(client, **overrides):
    data = {
        "username": "newcomer",
        "email": "newcomer@lab.example",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
    } | overrides
    return client.post(reverse("signup"), data)


def test_sign_up_creates_the_account_and_signs_in(client):
    """A new person signs up with a username, an email and a strong password, and lands signed in."""
    response = signup(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@lab.example"
    assert user.check_password(GOOD_PASSWORD)
    assert client.get(reverse("dashboard")).status_code == 200


def test_sign_up_page_renders_for_visitors_and_redirects_signed_in_users(client):
    page = client.get(reverse("signup"))
    assert page.status_code == 200
    assert 'name="email"' in page.content.decode()
    client.force_login(f.UserFactory())
    assert client.get(reverse("signup"))["Location"] == reverse("dashboard")


def test_sign_up_refuses_a_taken_username(client):
    f.UserFactory(username="newcomer", email="other@example.org")
    response = signup(client)
    assert response.status_code == 400
    assert "A user with that username already exists." in response.content.decode()
    assert User.objects.filter(username="newcomer").count() == 1


@pytest.mark.parametrize("email", ["newcomer@lab.example", "NewComer@Lab.Example"])
def test_sign_up_refuses_an_email_another_account_uses(client, email):
    """Emails are unique whatever their case: password resets find the account by its address."""
    f.UserFactory(username="someone", email="newcomer@lab.example")
    response = signup(client, email=email)
    assert response.status_code == 400
    assert "An account with this email already exists" in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "This password is too short"),
        ("password123", "This password is too common"),
        ("83920174659", "This password is entirely numeric"),
        ("newcomer-lab", "The password is too similar to the username"),
    ],
)
def test_sign_up_refuses_a_weak_password(client, password, message):
    """Django's password validators apply to sign-up: the page says which rule failed and nothing is saved."""
    response = signup(client, password1=password, password2=password)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": ""}, "This field is required."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"password2": "different-tundra-magnet-42"}, "The two password fields didn"),
        ({"username": "bad name!"}, "Enter a valid username."),
    ],
)
def test_sign_up_refuses_bad_input(client, overrides, message):
    response = signup(client, **overrides)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_landing_and_log_in_pages_link_to_sign_up_and_reset(client):
    assert reverse("signup") in client.get(reverse("landing")).content.decode()
    login_page = client.get(reverse("login")).content.decode()
    assert reverse("signup") in login_page
    assert reverse("password_reset") in login_page


def test_header_links_to_password_change_when_signed_in(client):
    client.force_login(f.UserFactory())
    assert reverse("password_change") in client.get(reverse("dashboard")).content.decode()


def test_password_change_needs_the_old_password_and_a_strong_new_one(client):
    user = f.UserFactory(username="changer")
    client.force_login(user)
    url = reverse("password_change")
    assert client.get(url).status_code == 200
    wrong = client.post(url, {"old_password": "nope", "new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD})
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    weak = client.post(url, {"old_password": f.PASSWORD, "new_password1": "123", "new_password2": "123"})
    assert "This password is too short" in weak.content.decode()
    done = client.post(
        url, {"old_password": f.PASSWORD, "new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD}
    )
    assert done["Location"] == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)
    # The session survives the change.
    assert client.get(reverse("password_change_done")).status_code == 200


def test_password_change_pages_need_a_signed_in_user(client):
    for name in ("password_change", "password_change_done"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def _reset_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body).group(1)


def test_password_reset_emails_a_link_that_sets_a_new_password_once(client):
    user = f.UserFactory(username="forgetful", email="forgetful@lab.example")
    response = client.post(reverse("password_reset"), {"email": "Forgetful@lab.example"})
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["forgetful@lab.example"]
    link = _reset_link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    weak = client.post(set_url, {"new_password1": "abc", "new_password2": "abc"})
    assert "This password is too short" in weak.content.decode()
    done = client.post(set_url, {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD})
    assert done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)
    # The same link does not work twice.
    again = client.get(link, follow=True)
    assert "This link no longer works" in again.content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@lab.example"}, follow=True)
    assert "Check your email" in response.content.decode()
    assert mail.outbox == []


def test_an_expired_password_reset_link_says_so_and_offers_a_new_one(client, settings):
    user = f.UserFactory(username="late")
    past = datetime.datetime.now() - datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    with mock.patch.object(PasswordResetTokenGenerator, "_now", return_value=past):
        token = default_token_generator.make_token(user)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    page = client.get(reverse("password_reset_confirm", args=[uid, token]), follow=True)
    body = page.content.decode()
    assert "This link no longer works" in body
    assert reverse("password_reset") in body
    user.refresh_from_db()
    assert user.check_password(f.PASSWORD)
