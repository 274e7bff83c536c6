"""Labs register themselves, invite colleagues by email, and manage their users and roles."""

import datetime
import re
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from labs.models import Lab, LabInvitation, LabMember
from labs.team import invitation_token
from tests import factories as f

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "plural-tundra-magnet-42"
LAB_FORM = {
    "name": "Cedar Hollow Lab",
    "slug": "",
    "kind": "academic",
    "country": "Chile",
    "website": "",
    "description": "Small open lab.",
    "gpu_type": "A100",
    "throughput_factor": "",
    "price_per_gpu_hour": "1.20",
    "final_run_gpu_hours": "300000",
    "rd_share": "0.8",
    "openness": "1",
}


def lab_form(**overrides):
    from simulations.engine.params import AREAS

    weights = {f"weight_{area}": str(round(1 / len(AREAS), 6)) for area in AREAS}
    return LAB_FORM | weights | overrides


def test_a_signed_in_person_registers_a_lab_and_becomes_its_admin(client):
    user = f.UserFactory(username="founder")
    client.force_login(user)
    assert client.get(reverse("labs:new")).status_code == 200
    response = client.post(reverse("labs:new"), lab_form())
    lab = Lab.objects.get(name="Cedar Hollow Lab")
    assert lab.slug == "cedar-hollow-lab"
    assert response["Location"] == reverse("labs:people", args=[lab.slug])
    assert LabMember.objects.get(lab=lab).role == LabMember.Role.ADMIN
    assert LabMember.objects.get(lab=lab).user == user
    assert abs(sum(lab.area_weights.values()) - 1) < 1e-9


@pytest.mark.parametrize(
    ("overrides", "field_message"),
    [
        ({"name": ""}, "This field is required."),
        ({"slug": "new"}, "names another page"),
        ({"slug": "Not A Slug"}, "Enter a valid “slug”"),
        ({"rd_share": "1.5"}, "strictly between 0 and 1"),
        ({"final_run_gpu_hours": "0"}, "greater than or equal to 1"),
        ({"weight_pretraining_data": "0.9"}, "must sum to 1"),
    ],
)
def test_registering_a_lab_refuses_bad_input(client, overrides, field_message):
    client.force_login(f.UserFactory())
    response = client.post(reverse("labs:new"), lab_form(**overrides))
    assert response.status_code == 400
    assert field_message in response.content.decode()
    assert not Lab.objects.exists()


def test_registering_a_lab_refuses_a_taken_name(client):
    f.LabFactory(name="Cedar Hollow Lab", slug="cedar")
    client.force_login(f.UserFactory())
    response = client.post(reverse("labs:new"), lab_form())
    assert response.status_code == 400
    assert "Lab with this Name already exists." in response.content.decode()


@pytest.fixture
def lab(world):
    """Lab A with user_a (admin) and token_user (member)."""
    return world.lab_a


def invite(client, lab, email="colleague@lab.example", role="member"):
    return client.post(reverse("labs:invite", args=[lab.slug]), {"email": email, "role": role})


def _link(message) -> str:
    return re.search(r"https?://[^/\s]+(/labs/invitations/\S+/)", message.body).group(1)


def test_an_admin_invites_a_colleague_by_email(world, client, lab):
    client.force_login(world.user_a)
    response = invite(client, lab)
    assert response["Location"] == reverse("labs:people", args=[lab.slug])
    invitation = LabInvitation.objects.get(lab=lab)
    assert invitation.state == LabInvitation.State.PENDING
    assert invitation.invited_by == world.user_a
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["colleague@lab.example"]
    assert _link(mail.outbox[0]) == reverse("labs:invitation", args=[invitation_token(invitation)])
    page = client.get(reverse("labs:people", args=[lab.slug])).content.decode()
    assert "colleague@lab.example" in page


@pytest.mark.parametrize(
    ("email", "message"),
    [("not-an-email", "Enter a valid email address."), ("token_user@example.org", "already belongs to a user")],
)
def test_an_invitation_refuses_bad_or_redundant_addresses(world, client, lab, email, message):
    client.force_login(world.user_a)
    response = invite(client, lab, email=email)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not LabInvitation.objects.exists()
    assert mail.outbox == []


def test_a_second_open_invitation_of_one_address_is_refused_until_the_first_is_withdrawn(world, client, lab):
    client.force_login(world.user_a)
    invite(client, lab)
    again = invite(client, lab, email="Colleague@Lab.Example")
    assert again.status_code == 400
    assert "already has an open invitation" in again.content.decode()
    first = LabInvitation.objects.get()
    client.post(reverse("labs:invitation_revoke", args=[lab.slug, first.pk]))
    first.refresh_from_db()
    assert first.state == LabInvitation.State.REVOKED
    assert invite(client, lab).status_code == 302
    assert LabInvitation.objects.count() == 2


def _invitation(lab, email="colleague@lab.example", **fields):
    return LabInvitation.objects.create(
        lab=lab, email=email, expires_at=timezone.now() + datetime.timedelta(days=7), **fields
    )


def test_the_link_offers_sign_up_with_the_email_filled_in_and_joins_the_lab(client, lab):
    invitation = _invitation(lab, role="admin")
    url = reverse("labs:invitation", args=[invitation_token(invitation)])
    page = client.get(url)
    assert page.status_code == 200
    assert f"{reverse('signup')}?invitation={quote(invitation_token(invitation))}" in page.content.decode()
    form = client.get(reverse("signup"), {"invitation": invitation_token(invitation)})
    assert 'value="colleague@lab.example"' in form.content.decode()
    response = client.post(
        reverse("signup"),
        {
            "username": "colleague",
            "email": "colleague@lab.example",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
            "invitation": invitation_token(invitation),
        },
    )
    assert response["Location"] == lab.get_absolute_url()
    user = get_user_model().objects.get(username="colleague")
    assert LabMember.objects.get(lab=lab, user=user).role == "admin"
    invitation.refresh_from_db()
    assert invitation.state == LabInvitation.State.ACCEPTED
    assert invitation.accepted_by == user


def test_signing_up_with_another_address_makes_an_account_but_does_not_join(client, lab):
    invitation = _invitation(lab)
    client.post(
        reverse("signup"),
        {
            "username": "someone",
            "email": "someone@else.example",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
            "invitation": invitation_token(invitation),
        },
    )
    assert get_user_model().objects.filter(username="someone").exists()
    assert not lab.memberships.filter(user__username="someone").exists()
    invitation.refresh_from_db()
    assert invitation.state == LabInvitation.State.PENDING


def test_an_existing_account_with_the_invited_email_accepts_when_signed_in(client, lab):
    existing = f.UserFactory(username="existing", email="Colleague@lab.example")
    invitation = _invitation(lab)
    url = reverse("labs:invitation", args=[invitation_token(invitation)])
    anonymous = client.get(url).content.decode()
    assert "Log in to accept" in anonymous
    # Accepting needs a signed-in user.
    assert client.post(url)["Location"].startswith(reverse("login"))
    client.force_login(existing)
    assert "Accept and join" in client.get(url).content.decode()
    assert client.post(url)["Location"] == lab.get_absolute_url()
    assert lab.memberships.filter(user=existing, role="member").exists()


def test_a_used_link_gives_a_clear_page(client, lab):
    invitation = _invitation(lab, accepted_at=timezone.now())
    response = client.get(reverse("labs:invitation", args=[invitation_token(invitation)]))
    assert response.status_code == 410
    assert "already been used" in response.content.decode()


def test_an_expired_link_gives_a_clear_page_and_does_not_join(client, lab):
    invitation = _invitation(lab)
    invitation.expires_at = timezone.now() - datetime.timedelta(minutes=1)
    invitation.save()
    user = f.UserFactory(username="late", email="colleague@lab.example")
    client.force_login(user)
    url = reverse("labs:invitation", args=[invitation_token(invitation)])
    response = client.get(url)
    assert response.status_code == 410
    assert "expired on" in response.content.decode()
    assert client.post(url).status_code == 410
    assert not lab.memberships.filter(user=user).exists()


def test_a_withdrawn_link_gives_a_clear_page(client, lab):
    invitation = _invitation(lab, revoked_at=timezone.now())
    response = client.get(reverse("labs:invitation", args=[invitation_token(invitation)]))
    assert response.status_code == 410
    assert "withdrawn" in response.content.decode()


def test_a_link_opened_by_another_account_says_whose_it_is(world, client, lab):
    invitation = _invitation(lab)
    client.force_login(world.user_b)
    url = reverse("labs:invitation", args=[invitation_token(invitation)])
    response = client.get(url)
    assert response.status_code == 403
    assert "This invitation is for colleague@lab.example" in response.content.decode()
    assert client.post(url).status_code == 403
    assert not lab.memberships.filter(user=world.user_b).exists()


@pytest.mark.parametrize("token", ["garbage", "MTIz:1tZ0aa:forged-signature"])
def test_a_forged_or_mangled_link_is_not_found(client, token):
    response = client.get(reverse("labs:invitation", args=[token]))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_an_admin_changes_roles_and_removes_users(world, client, lab):
    client.force_login(world.user_a)
    member = LabMember.objects.get(lab=lab, user=world.token_user)
    client.post(reverse("labs:member_role", args=[lab.slug, member.pk]), {"role": "admin"})
    member.refresh_from_db()
    assert member.role == "admin"
    client.post(reverse("labs:member_remove", args=[lab.slug, member.pk]))
    assert not LabMember.objects.filter(pk=member.pk).exists()
    assert get_user_model().objects.filter(pk=world.token_user.pk).exists()


def test_the_last_admin_can_be_neither_demoted_nor_removed(world, client, lab):
    client.force_login(world.user_a)
    admin = LabMember.objects.get(lab=lab, user=world.user_a)
    demote = client.post(reverse("labs:member_role", args=[lab.slug, admin.pk]), {"role": "member"}, follow=True)
    assert "is the last admin of Lab A" in demote.content.decode()
    remove = client.post(reverse("labs:member_remove", args=[lab.slug, admin.pk]), follow=True)
    assert "is the last admin of Lab A" in remove.content.decode()
    admin.refresh_from_db()
    assert admin.role == "admin"


def test_with_a_second_admin_the_first_may_step_down(world, client, lab):
    LabMember.objects.filter(lab=lab, user=world.token_user).update(role="admin")
    client.force_login(world.user_a)
    admin = LabMember.objects.get(lab=lab, user=world.user_a)
    response = client.post(reverse("labs:member_remove", args=[lab.slug, admin.pk]))
    assert response["Location"] == reverse("dashboard")
    assert not lab.memberships.filter(user=world.user_a).exists()


def test_an_unknown_role_is_refused(world, client, lab):
    client.force_login(world.user_a)
    member = LabMember.objects.get(lab=lab, user=world.token_user)
    page = client.post(reverse("labs:member_role", args=[lab.slug, member.pk]), {"role": "owner"}, follow=True)
    assert "Choose a role" in page.content.decode()
    member.refresh_from_db()
    assert member.role == "member"


def test_a_lab_member_sees_the_people_page_without_its_controls(world, client, lab):
    client.force_login(world.token_user)
    page = client.get(reverse("labs:people", args=[lab.slug])).content.decode()
    assert "user_a" in page
    assert reverse("labs:invite", args=[lab.slug]) not in page
    assert "Remove" not in page


def test_a_signed_in_person_following_a_sign_up_link_is_sent_to_the_invitation(world, client, lab):
    invitation = _invitation(lab, email=world.user_b.email)
    client.force_login(world.user_b)
    token = invitation_token(invitation)
    response = client.get(reverse("signup"), {"invitation": token})
    assert response["Location"] == reverse("labs:invitation", args=[token])


def test_when_the_mail_server_refuses_the_admin_gets_the_link_to_pass_on(world, client, lab):
    import smtplib
    from unittest import mock

    client.force_login(world.user_a)
    with mock.patch("labs.team.send_mail", side_effect=smtplib.SMTPException("relay denied")):
        page = invite(client, lab, email="far.away@lab.example")
    invitation = LabInvitation.objects.get()
    follow = client.get(page["Location"]).content.decode()
    assert "could not be sent" in follow
    assert reverse("labs:invitation", args=[invitation_token(invitation)]) in follow
    assert invitation.state == LabInvitation.State.PENDING
