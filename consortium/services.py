"""Writes to memberships and scenarios, each validated fully inside one transaction.

Membership is history: a change of status closes the current spell and opens a new one, and
leaving closes it; no spell is ever edited otherwise or removed. Errors are django
ValidationErrors keyed by field. Permission checks belong to the caller (consortium.access).

Consent: a lab enters a consortium only if one of its own users says so. When the person adding
a lab that is not yet in the consortium is not a user of that lab, the service records an
invitation (status "invited") whatever status was asked for; the lab's users accept it (it
becomes a candidate spell) or decline it. A lab already in the consortium has consented, and its
coordinators change its status freely. A lab with a pending application has consented too: a
coordinator adding it gives it the status asked for and answers the application. A consortium sends
at most INVITATIONS_PER_DAY invitations in any 24 hours (InvitationLimitReached otherwise).
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.models import Lab
from simulations.engine import WEIGHT_BASES, InvalidParameterError, member_weights
from simulations.engine.custom import check_custom_rules, custom_player_names, parse_custom_game
from simulations.engine.errors import EngineError

from . import access
from .models import (
    LAB_OVERRIDE_FIELDS,
    OPENNESS_SOURCES,
    Application,
    Consortium,
    Membership,
    Scenario,
    default_parameters,
    validate_openness_by_lab,
    validate_overrides,
    validate_weight_values,
)

logger = logging.getLogger(__name__)

SCENARIO_FIELDS = (
    "name",
    "description",
    "labs",
    "parameters",
    "rules",
    "weight_basis",
    "weight_values",
    "weight_cap",
    "overrides",
    "openness_source",
    "openness_by_lab",
    "evidence_months",
    "draws",
    "seed",
)
# Below two labs there is nothing to share: the only "coalition" is going alone.
SCENARIO_MIN_LABS = 2


# Paths under /consortia/ that are pages, not consortia: a consortium with such a slug could not be reached.
RESERVED_SLUGS = frozenset({"new", "invitations", "applications"})


def _check_slug(slug: str) -> None:
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"“{slug}” is reserved for a page of the site; choose another short name."})


@transaction.atomic
def consortium_create(
    *, created_by: Any, name: str, slug: str, charter: str = "", currency: str = "USD", listed: bool = False
) -> Consortium:
    """Found a consortium; its founder becomes its first coordinator. A listed one takes applications."""
    _check_slug(slug)
    consortium = Consortium(name=name, slug=slug, charter=charter, currency=currency, listed=listed)
    consortium.full_clean()
    save_or_conflict(consortium, {"name": "A consortium with this name or short name was created at the same moment."})
    consortium.coordinators.add(created_by)
    logger.info("consortium: %s founded by %s", consortium, created_by)
    return consortium


def coordinator_find(*, identifier: str) -> Any:
    """The active account whose username is `identifier`, or else the one whose email it is (any case)."""
    User = get_user_model()
    identifier = identifier.strip()
    if not identifier:
        raise ValidationError({"user": "Enter the username or email of an existing account."})
    active = User.objects.filter(is_active=True)
    user = active.filter(**{User.USERNAME_FIELD: identifier}).first()
    if user is not None:
        return user
    by_email = list(active.filter(email__iexact=identifier)[:2])
    if len(by_email) > 1:
        raise ValidationError({"user": f"Several accounts use {identifier}; enter the username instead."})
    if not by_email:
        raise ValidationError(
            {"user": f"No account has the username or email “{identifier}”. They sign up first, then you add them."}
        )
    return by_email[0]


def _locked(consortium: Consortium) -> Consortium:
    # Two coordinators removing each other at once must not both succeed and leave nobody.
    return Consortium.objects.select_for_update().get(pk=consortium.pk)


@transaction.atomic
def coordinator_add(*, consortium: Consortium, user: Any, by: Any) -> None:
    """Make `user` a coordinator of `consortium` too."""
    consortium = _locked(consortium)
    if consortium.coordinators.filter(pk=user.pk).exists():
        raise ValidationError({"user": f"{user.get_username()} already coordinates {consortium}."})
    consortium.coordinators.add(user)
    logger.info("consortium: %s coordinates %s (added by %s)", user, consortium, by)


@transaction.atomic
def coordinator_remove(*, consortium: Consortium, user: Any, by: Any) -> None:
    """`user` stops coordinating `consortium`; a consortium always keeps at least one coordinator."""
    consortium = _locked(consortium)
    coordinators = set(consortium.coordinators.values_list("pk", flat=True))
    if user.pk not in coordinators:
        raise ValidationError({"user": f"{user.get_username()} does not coordinate {consortium}."})
    if coordinators == {user.pk}:
        raise ValidationError(
            {
                "user": f"{user.get_username()} is the only coordinator of {consortium}; add another coordinator "
                "before removing this one."
            }
        )
    consortium.coordinators.remove(user)
    logger.info("consortium: %s no longer coordinates %s (removed by %s)", user, consortium, by)


def save_or_conflict(instance: Any, conflict: dict[str, str] | Callable[[], dict[str, str]]) -> None:
    """Save in a savepoint; a unique constraint violated by a concurrent request becomes `conflict`
    (a mapping of field to message, or a function returning one once the conflict is known).

    The checks before a save cannot see a row another transaction has not committed yet; the
    database's constraint then refuses the second insert, which should read as a 400, not a 500.
    """
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ValidationError(conflict() if callable(conflict) else conflict) from None


def _current_spell(*, consortium: Consortium, lab: Lab) -> Membership | None:
    """The lab's open spell (an invitation included), locked.

    The lab's row is locked first: when the lab has no open spell there is no spell row to lock,
    and two simultaneous joins would both insert one.
    """
    Lab.objects.select_for_update().filter(pk=lab.pk).first()
    return Membership.objects.select_for_update().filter(consortium=consortium, lab=lab, left_on__isnull=True).first()


def _check_not_future(on_date: datetime.date) -> None:
    # A spell is open or closed now (Membership.current() looks only at left_on): a future leaving
    # date would lock the lab out today, and a future start would let it in early.
    if on_date > datetime.date.today():
        raise ValidationError(
            {"on_date": f"The date cannot be in the future ({on_date}); record the change on the day."}
        )


INVITATION_WINDOW = datetime.timedelta(days=1)


class InvitationLimitReached(ValidationError):
    """The consortium has sent its INVITATIONS_PER_DAY invitations; `retry_at` is when one more fits."""

    def __init__(self, *, consortium: Consortium, limit: int, retry_at: datetime.datetime) -> None:
        super().__init__(
            {
                "lab": f"{consortium} has sent {limit} invitations in the last 24 hours, the most allowed; "
                f"invite again after {retry_at:%d %b %Y %H:%M} UTC."
            },
            code="throttled",
        )
        self.retry_at = retry_at


def _check_invitation_limit(consortium: Consortium) -> None:
    """Refuse an invitation beyond the consortium's daily allowance (counted by when spells were recorded)."""
    limit = settings.INVITATIONS_PER_DAY
    # The consortium's row serialises concurrent invitations (PostgreSQL; SQLite's writes are serial anyway).
    Consortium.objects.select_for_update().filter(pk=consortium.pk).values_list("pk", flat=True).first()
    recent = list(
        Membership.objects.filter(
            consortium=consortium,
            status=Membership.Status.INVITED,
            recorded_at__gt=timezone.now() - INVITATION_WINDOW,
        )
        .order_by("recorded_at")
        .values_list("recorded_at", flat=True)
    )
    if len(recent) >= limit:
        retry_at = recent[len(recent) - limit] + INVITATION_WINDOW
        raise InvitationLimitReached(consortium=consortium, limit=limit, retry_at=retry_at)


def _consents(by: Any, lab: Lab) -> bool:
    return by is not None and access.can_edit_lab(by, lab)


@transaction.atomic
def membership_change(*, consortium: Consortium, lab: Lab, status: str, on_date: datetime.date, by: Any) -> Membership:
    """Give `lab` a new status in `consortium` from `on_date`: close the current spell, open a new one.

    A lab without a current spell joins with `status`.
    """
    if status not in Membership.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}; choose one of {', '.join(Membership.Status)}."})
    _check_not_future(on_date)
    current = _current_spell(consortium=consortium, lab=lab)
    joining = current is None or current.status == Membership.Status.INVITED
    # A lab that applied has asked to join: the coordinator's change answers its application.
    application = (
        Application.objects.filter(consortium=consortium, lab=lab, status=Application.Status.PENDING).first()
        if current is None
        else None
    )
    if joining and not _consents(by, lab) and application is None:
        # Nobody enters a consortium, and shows it its data, without its own users agreeing.
        status = Membership.Status.INVITED
    elif not joining and status == Membership.Status.INVITED:
        raise ValidationError({"status": f"{lab} is already in {consortium}; it cannot be invited."})
    if current is not None:
        if current.status == status == Membership.Status.INVITED:
            raise ValidationError({"status": f"{lab} is already invited to {consortium}; its users have not answered."})
        if current.status == status:
            raise ValidationError({"status": f"{lab} is already a {current.get_status_display().lower()}."})
        if on_date < current.joined_on:
            raise ValidationError(
                {"on_date": f"The change cannot come before the current spell started ({current.joined_on})."}
            )
        current.left_on = on_date
        current.full_clean()
        current.save(update_fields=["left_on"])
    else:
        previous = (
            Membership.objects.filter(consortium=consortium, lab=lab, left_on__isnull=False)
            .order_by("-left_on")
            .first()
        )
        if previous is not None and on_date < previous.left_on:
            raise ValidationError({"on_date": f"{lab} left on {previous.left_on}; it cannot rejoin before that."})
    if status == Membership.Status.INVITED:
        _check_invitation_limit(consortium)
    spell = Membership(consortium=consortium, lab=lab, status=status, joined_on=on_date)
    spell.full_clean(validate_constraints=False)
    save_or_conflict(spell, {"lab": f"{lab} was changed in {consortium} at the same moment; try again."})
    if application is not None and status != Membership.Status.INVITED:
        application.status = Application.Status.ACCEPTED
        application.decided_by = by if getattr(by, "pk", None) else None
        application.decided_at = timezone.now()
        application.membership = spell
        application.save(update_fields=["status", "decided_by", "decided_at", "membership"])
    logger.info("membership: %s is %s of %s from %s (by %s)", lab, status, consortium, on_date, by)
    return spell


@transaction.atomic
def membership_end(*, consortium: Consortium, lab: Lab, on_date: datetime.date, by: Any) -> Membership:
    """Close the lab's current spell on `on_date`; the spell stays in the history."""
    _check_not_future(on_date)
    current = _current_spell(consortium=consortium, lab=lab)
    if current is None:
        raise ValidationError({"lab": f"{lab} is not currently in {consortium}."})
    if on_date < current.joined_on:
        raise ValidationError({"on_date": f"The leaving date cannot be before the joining date ({current.joined_on})."})
    current.left_on = on_date
    current.full_clean()
    current.save(update_fields=["left_on"])
    logger.info("membership: %s left %s on %s (by %s)", lab, consortium, on_date, by)
    return current


def _answer_invitation(*, spell: Membership, accept: bool, by: Any) -> Membership:
    Lab.objects.select_for_update().filter(pk=spell.lab_id).first()
    spell = Membership.objects.select_for_update().get(pk=spell.pk)
    if spell.left_on is not None or spell.status != Membership.Status.INVITED:
        raise ValidationError({"non_field_errors": "This is not an open invitation."})
    today = datetime.date.today()
    spell.left_on = max(today, spell.joined_on)
    spell.full_clean()
    spell.save(update_fields=["left_on"])
    logger.info(
        "membership: %s %s the invitation to %s (by %s)",
        spell.lab,
        "accepted" if accept else "declined",
        spell.consortium,
        by,
    )
    if not accept:
        return spell
    candidate = Membership(
        consortium=spell.consortium, lab=spell.lab, status=Membership.Status.CANDIDATE, joined_on=spell.left_on
    )
    candidate.full_clean(validate_constraints=False)
    save_or_conflict(candidate, {"non_field_errors": "The invitation was answered at the same moment."})
    return candidate


@transaction.atomic
def membership_accept(*, spell: Membership, by: Any) -> Membership:
    """The lab accepts its invitation: the invited spell closes today and a candidate spell opens."""
    return _answer_invitation(spell=spell, accept=True, by=by)


@transaction.atomic
def membership_decline(*, spell: Membership, by: Any) -> Membership:
    """The lab declines its invitation: the invited spell closes today (it stays in the history)."""
    return _answer_invitation(spell=spell, accept=False, by=by)


def scenario_labs_check(*, consortium: Consortium, labs: Iterable[Lab]) -> list[Lab]:
    """At least two labs, each a current member or candidate of `consortium` (scenario edits and run starts)."""
    labs = list(labs)
    most = settings.SCENARIO_MAX_LABS
    if len(labs) > most:
        raise ValidationError({"labs": f"A scenario has at most {most} labs (SCENARIO_MAX_LABS), not {len(labs)}."})
    if len({lab.pk for lab in labs}) < SCENARIO_MIN_LABS:
        raise ValidationError({"labs": f"Choose at least {SCENARIO_MIN_LABS} different labs."})
    allowed = set(
        Membership.objects.current()
        .filter(consortium=consortium, status__in=[Membership.Status.MEMBER, Membership.Status.CANDIDATE])
        .values_list("lab_id", flat=True)
    )
    outside = [lab for lab in labs if lab.pk not in allowed]
    if outside:
        # Whoever edits the scenario reads the consortium, so sees its observers; any other lab
        # (an invited one, a past member, a stranger) is named by id, so the message leaks no name.
        observers = set(Membership.objects.current().filter(consortium=consortium).values_list("lab_id", flat=True))
        named = sorted(lab.name if lab.pk in observers else f"lab {lab.pk}" for lab in outside)
        raise ValidationError({"labs": f"Not a current member or candidate of {consortium}: {', '.join(named)}."})
    return labs


def _sentence(error: InvalidParameterError) -> str:
    text = str(error)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def scenario_weights_check(
    *,
    consortium: Consortium,
    labs: Iterable[Lab],
    rules: Iterable[str],
    basis: str,
    values: Any,
    cap: float | None,
    delivered: Mapping[int, float | None] | None = None,
) -> dict[int, float]:
    """Each lab's weight under the weighted rule (lab id -> share, summing to 1); {} without the rule
    (or, for basis "delivered", without `delivered`).

    The one check of a scenario's weights, used by the scenario form, the API (through the
    services) and a run's start. The weights come from engine.member_weights, whose message an
    InvalidParameterError turns into a ValidationError on `weight_basis`, `weight_values` or
    `weight_cap`: first without the cap, so an error there is the values' (or, for compute
    delivered, the ledger's), then with it.

    `delivered` maps lab ids to the H100-equivalent GPU-hours delivered to the consortium (None:
    not convertible, a lab without the throughput factor its entries need). Without it, as when a
    scenario is saved, basis "delivered" checks only that no values or cap are given: the ledger
    is read when a run starts.
    """
    if "weighted" not in list(rules):
        return {}
    labs = sorted(labs, key=lambda lab: lab.name)
    names = [lab.name for lab in labs]
    if basis not in WEIGHT_BASES:
        try:
            member_weights(basis, [], [])
        except InvalidParameterError as exc:
            raise ValidationError({"weight_basis": _sentence(exc)}) from None
    try:
        validate_weight_values(values)
    except ValidationError as error:
        raise ValidationError({"weight_values": error.messages}) from None
    in_scenario = {str(lab.pk): lab for lab in labs}
    outside = sorted(set(values) - set(in_scenario), key=int)
    if outside:
        # Name a lab the consortium can see; any other id stays a number, so the message leaks no name.
        known = dict(
            Membership.objects.current()
            .filter(consortium=consortium, lab_id__in=[int(key) for key in outside])
            .values_list("lab_id", "lab__name")
        )
        named = ", ".join(known.get(int(key), f"lab {key}") for key in outside)
        raise ValidationError(
            {"weight_values": f"Not a lab of this scenario: {named}. Give weights for its labs only."}
        )
    if basis == "delivered":
        if values:
            raise ValidationError(
                {"weight_values": "Compute delivered comes from the ledger; leave the weights empty ({})."}
            )
        unconverted = [lab.name for lab in labs if delivered is not None and delivered.get(lab.pk, 0.0) is None]
        if unconverted:
            raise ValidationError(
                {
                    "weight_basis": f"{', '.join(unconverted)} delivered compute on GPU type “other” without a "
                    "throughput factor, so it cannot be counted in H100-equivalents; set the factor on the lab's "
                    "profile."
                }
            )
        # Equal stand-ins before any run: they let the cap be checked; the ledger gives the real numbers.
        numbers = [1.0] * len(labs) if delivered is None else [max(delivered.get(lab.pk, 0.0), 0.0) for lab in labs]
    else:
        missing = [lab.name for lab in labs if str(lab.pk) not in values]
        if missing:
            raise ValidationError(
                {"weight_values": f"Give a weight for every lab of the scenario; missing: {', '.join(missing)}."}
            )
        numbers = [values[str(lab.pk)] for lab in labs]
    try:
        weights = member_weights(basis, numbers, names)
    except InvalidParameterError as exc:
        raise ValidationError({"weight_basis" if basis == "delivered" else "weight_values": _sentence(exc)}) from None
    if cap is not None:
        try:
            weights = member_weights(basis, numbers, names, cap=cap)
        except InvalidParameterError as exc:
            raise ValidationError({"weight_cap": _sentence(exc)}) from None
    if basis == "delivered" and delivered is None:
        return {}
    return {lab.pk: float(weight) for lab, weight in zip(labs, weights, strict=True)}


def lab_effective_inputs(lab: Lab, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The inputs of LAB_OVERRIDE_FIELDS a scenario's runs use for `lab`: its overrides, else the lab's own.

    Overriding the GPU type without a throughput factor uses the new type's datasheet factor, not
    the lab's own factor (that one belongs to the lab's own type).
    """
    overrides = overrides or {}
    values = {name: overrides[name] if name in overrides else getattr(lab, name) for name in LAB_OVERRIDE_FIELDS}
    if "gpu_type" in overrides and "throughput_factor" not in overrides:
        values["throughput_factor"] = None
    return values


def scenario_overrides_check(*, labs: Iterable[Lab], overrides: Any) -> dict[str, dict[str, Any]]:
    """Check a scenario's overrides {lab id: {field: value}} and return them in their stored form.

    Only the scenario's own labs may have overrides, only LAB_OVERRIDE_FIELDS, and each value must
    pass the same validation as the lab's own field (the model field's checks and Lab.clean on the
    lab with the overrides applied). A lab with no overrides left is dropped. Raises a
    ValidationError on `overrides` naming the lab and the field; nothing is changed.
    """
    try:
        validate_overrides(overrides)
    except ValidationError as error:
        raise ValidationError({"overrides": error.messages}) from None
    by_id = {str(lab.pk): lab for lab in labs}
    errors: list[str] = []
    cleaned: dict[str, dict[str, Any]] = {}
    for key, fields in overrides.items():
        lab = by_id.get(key)
        if lab is None:
            errors.append(f"Lab {key} is not among this scenario's labs; only its own labs may have overrides.")
            continue
        lab_errors, values = lab_overrides_clean(lab, fields)
        for name, messages in lab_errors.items():
            label = LAB_OVERRIDE_FIELDS.get(name, name)
            errors.extend(f"{lab.name}, {label}: {message}" for message in messages)
        if values:
            cleaned[key] = values
    if errors:
        raise ValidationError({"overrides": errors})
    return cleaned


def lab_overrides_clean(lab: Lab, fields: Mapping[str, Any]) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """One lab's overrides through the lab's own field checks and Lab.clean, on a copy of the lab.

    Returns ({field: [messages]}, {}) when any is refused, else ({}, the overrides' stored form).
    The scenario form puts the messages beside its inputs; scenario_overrides_check names the lab.
    """
    probe = Lab(**{field.attname: getattr(lab, field.attname) for field in Lab._meta.concrete_fields})
    # No pk: Lab.clean's ledger check guards the lab's own factor, which an override leaves alone.
    probe.pk = None
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, bool) or (value is None and name != "throughput_factor"):
            errors.setdefault(name, []).append(f"enter a value of the lab's field, got {value!r}.")
            continue
        if name == "price_per_gpu_hour" and isinstance(value, float):
            # As written, not as stored in binary: 2.1 is 2.1, not 2.1000000000000000888.
            value = str(value)
        try:
            values[name] = Lab._meta.get_field(name).to_python(value)
        except ValidationError as error:
            errors.setdefault(name, []).extend(error.messages)
            continue
        # to_python takes "nan" for a float and truncates 1.5 to an integer; the lab's form does neither.
        if isinstance(values[name], float) and not math.isfinite(values[name]):
            errors.setdefault(name, []).append(f"enter a finite number, got {value!r}.")
        elif name == "final_run_gpu_hours" and isinstance(value, float) and not value.is_integer():
            errors.setdefault(name, []).append(f"enter a whole number of GPU-hours, got {value!r}.")
    if errors:
        return errors, {}
    for name, value in lab_effective_inputs(probe, values).items():
        setattr(probe, name, value)
    exclude = [field.name for field in Lab._meta.fields if field.name not in values]
    try:
        probe.clean_fields(exclude=exclude)
        probe.clean()
    except ValidationError as error:
        return error.message_dict, {}
    return {}, {name: _override_stored(value) for name, value in values.items()}


def _override_stored(value: Any) -> Any:
    """An override's JSON form: Decimals (the price) as numbers."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: float(item) for key, item in value.items()}
    return value


def scenario_openness_check(
    *, labs: Iterable[Lab], source: Any, by_lab: Any, overrides: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Check a scenario's per-lab openness sources {lab id: "assumed" | "ledger"}; return their stored form.

    Only the scenario's own labs may have one; one equal to the scenario's `source` says nothing and
    is dropped. A lab whose openness is overridden takes the override, so asking for its openness
    "from the ledger" as well is refused. Raises a ValidationError on `openness_by_lab`.
    """
    try:
        validate_openness_by_lab(by_lab)
    except ValidationError as error:
        raise ValidationError({"openness_by_lab": error.messages}) from None
    by_id = {str(lab.pk): lab for lab in labs}
    errors: list[str] = []
    cleaned: dict[str, str] = {}
    for key, chosen in by_lab.items():
        lab = by_id.get(key)
        if lab is None:
            errors.append(
                f"Lab {key} is not among this scenario's labs; only its own labs may have an openness source."
            )
        elif chosen == "ledger" and "openness" in overrides.get(key, {}):
            errors.append(
                f"{lab.name}: its openness is overridden ({overrides[key]['openness']:g}), so it cannot also come "
                "from the ledger; clear the override or choose “assumed”."
            )
        elif chosen != source:
            cleaned[key] = chosen
    if errors:
        raise ValidationError({"openness_by_lab": errors})
    return dict(sorted(cleaned.items(), key=lambda item: int(item[0])))


def _check_unique_name(*, scenario: Scenario) -> None:
    taken = Scenario.objects.filter(consortium=scenario.consortium, name=scenario.name).exclude(pk=scenario.pk)
    if taken.exists():
        raise ValidationError({"name": f"{scenario.consortium} already has a scenario named {scenario.name!r}."})


def _save_scenario(scenario: Scenario, labs: list[Lab] | None) -> Scenario:
    _check_unique_name(scenario=scenario)
    # Overrides first: they come in loosely typed (a Decimal price) and leave in their JSON form.
    errors: dict[str, list[str]] = {}
    try:
        scenario.overrides = scenario_overrides_check(
            labs=labs if labs is not None else scenario.labs.all(), overrides=scenario.overrides
        )
    except ValidationError as error:
        errors = error.message_dict
    if scenario.openness_source in OPENNESS_SOURCES:
        try:
            scenario.openness_by_lab = scenario_openness_check(
                labs=labs if labs is not None else scenario.labs.all(),
                source=scenario.openness_source,
                by_lab=scenario.openness_by_lab,
                overrides={} if "overrides" in errors else scenario.overrides,
            )
        except ValidationError as error:
            errors = {**errors, **error.message_dict}
    try:
        scenario.full_clean(
            validate_constraints=False, exclude=[name for name in ("overrides", "openness_by_lab") if name in errors]
        )
    except ValidationError as error:
        errors = {**error.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
    scenario_weights_check(
        consortium=scenario.consortium,
        labs=labs if labs is not None else scenario.labs.all(),
        rules=scenario.rules,
        basis=scenario.weight_basis,
        values=scenario.weight_values,
        cap=scenario.weight_cap,
    )
    save_or_conflict(scenario, {"name": f"{scenario.consortium} already has a scenario named {scenario.name!r}."})
    if labs is not None:
        scenario.labs.set(labs)
    return scenario


@transaction.atomic
def scenario_create(
    *,
    consortium: Consortium,
    created_by: Any,
    name: str,
    labs: Iterable[Lab],
    parameters: dict[str, Any] | None = None,
    rules: list[str] | None = None,
    weight_basis: str = "delivered",
    weight_values: dict[str, float] | None = None,
    weight_cap: float | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    openness_source: str = "assumed",
    openness_by_lab: dict[str, str] | None = None,
    evidence_months: int = 24,
    draws: int = 1000,
    seed: int = 2026,
    description: str = "",
) -> Scenario:
    """Create a scenario; parameters not given take their defaults and are stored explicitly.

    The weighted rule's weights (`weight_basis`, `weight_values` {lab id: number}, `weight_cap`)
    are checked by scenario_weights_check when the rule is chosen; `overrides` {lab id: {field:
    value}} by scenario_overrides_check. `openness_source` ("assumed" or "ledger") says where the runs
    take every lab's openness from, `openness_by_lab` {lab id: source} the labs that differ
    (scenario_openness_check), `evidence_months` the ledger's window before each run.
    """
    labs = scenario_labs_check(consortium=consortium, labs=labs)
    scenario = Scenario(
        consortium=consortium,
        created_by=created_by,
        name=name,
        description=description,
        weight_basis=weight_basis,
        weight_values={} if weight_values is None else weight_values,
        weight_cap=weight_cap,
        overrides={} if overrides is None else overrides,
        openness_source=openness_source,
        openness_by_lab={} if openness_by_lab is None else openness_by_lab,
        evidence_months=evidence_months,
        draws=draws,
        seed=seed,
    )
    if rules is not None:
        scenario.rules = rules
    if parameters is not None:
        scenario.parameters = _with_defaults(parameters)
    return _save_scenario(scenario, labs)


@transaction.atomic
def scenario_update(*, scenario: Scenario, **fields: Any) -> Scenario:
    unknown = sorted(set(fields) - set(SCENARIO_FIELDS))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This scenario field cannot be changed."))
    if scenario.is_custom:
        raise ValidationError(
            {
                "kind": f"Scenario {scenario.pk} is a custom game; change its table with "
                f"PUT /api/v1/games/{scenario.pk}/."
            }
        )
    labs = fields.pop("labs", None)
    if labs is not None:
        labs = scenario_labs_check(consortium=scenario.consortium, labs=labs)
    if "parameters" in fields:
        fields["parameters"] = _with_defaults(fields["parameters"])
    for name, value in fields.items():
        setattr(scenario, name, value)
    return _save_scenario(scenario, labs)


def _capital(message: str) -> str:
    """An engine message as a sentence: capital first letter (the rest untouched), a full stop."""
    return message[:1].upper() + message[1:].rstrip(".") + "."


def custom_game_check(
    *, consortium: Consortium, kind: str, text: str, rules: Iterable[str]
) -> tuple[dict[str, Any], list[str], dict[str, int]]:
    """Read a custom game and its rules; match its players to the consortium's current labs by name.

    Returns the game's stored form, the rules and {player: lab id}. Raises a ValidationError on
    `game` naming the row (or on `rules`) before anything is written.
    """
    try:
        game = parse_custom_game(kind, text)
    except EngineError as exc:
        raise ValidationError({"game": _capital(str(exc))}) from None
    try:
        names = list(check_custom_rules(kind, game, list(rules)))
    except EngineError as exc:
        raise ValidationError({"rules": _capital(str(exc))}) from None
    current = Membership.objects.current().filter(consortium=consortium).values("lab_id")
    labs: dict[str, int] = {}
    for pk, name, slug in Lab.objects.filter(pk__in=current).values_list("pk", "name", "slug"):
        labs[name.casefold()] = labs[slug] = pk
    matched: dict[str, int] = {}
    for player in custom_player_names(kind, game):
        lab_id = labs.get(player.casefold()) or labs.get(player)
        if lab_id is not None and lab_id not in matched.values():
            matched[player] = lab_id
    return game, names, matched


@transaction.atomic
def custom_game_create(
    *,
    consortium: Consortium,
    created_by: Any,
    name: str,
    kind: str,
    text: str,
    rules: Iterable[str],
    description: str = "",
) -> Scenario:
    """A scenario whose game is given as a table (kind "table") or an airport game (kind "airport")."""
    game, names, matched = custom_game_check(consortium=consortium, kind=kind, text=text, rules=rules)
    scenario = Scenario(
        consortium=consortium,
        created_by=created_by,
        name=name,
        description=description,
        kind=kind,
        game=game,
        player_labs=matched,
        rules=names,
        draws=1,
    )
    _check_unique_name(scenario=scenario)
    scenario.full_clean(validate_constraints=False)
    save_or_conflict(scenario, {"name": f"{consortium} already has a scenario named {name!r}."})
    scenario.labs.set(matched.values())
    return scenario


@transaction.atomic
def custom_game_update(
    *, scenario: Scenario, name: str, text: str, rules: Iterable[str], description: str = ""
) -> Scenario:
    """Replace a custom game's table, rules, name or description; its runs keep what they used."""
    if not scenario.is_custom:
        raise ValidationError({"kind": "Only a custom game's table can be replaced."})
    game, names, matched = custom_game_check(consortium=scenario.consortium, kind=scenario.kind, text=text, rules=rules)
    scenario.name, scenario.description = name, description
    scenario.game, scenario.rules, scenario.player_labs = game, names, matched
    _check_unique_name(scenario=scenario)
    scenario.full_clean(validate_constraints=False)
    save_or_conflict(scenario, {"name": f"{scenario.consortium} already has a scenario named {name!r}."})
    scenario.labs.set(matched.values())
    return scenario


# A copy's name: "Copy of <name>", then "Copy of <name> (2)" and so on while a name is taken.
COPY_PREFIX = "Copy of "


def _copy_name(scenario: Scenario) -> str:
    limit = Scenario._meta.get_field("name").max_length
    taken = set(
        Scenario.objects.filter(consortium=scenario.consortium, name__startswith=COPY_PREFIX).values_list(
            "name", flat=True
        )
    )
    number = 1
    while True:
        suffix = "" if number == 1 else f" ({number})"
        name = f"{COPY_PREFIX}{scenario.name}"[: limit - len(suffix)] + suffix
        if name not in taken:
            return name
        number += 1


@transaction.atomic
def scenario_duplicate(*, scenario: Scenario, by: Any) -> Scenario:
    """A new, unarchived scenario of the same consortium with the original's fields and labs, named
    "Copy of <name>"; none of the original's runs come with it.

    The labs are copied as they are: one that has left since stays on the copy until the copy is
    edited, and starting a run names it (scenario_labs_check).
    """
    copy = Scenario(
        consortium=scenario.consortium,
        created_by=by,
        name=_copy_name(scenario),
        **{name: getattr(scenario, name) for name in SCENARIO_FIELDS if name not in ("name", "labs")},
        # A custom game's copy keeps its table.
        kind=scenario.kind,
        game=scenario.game,
        player_labs=scenario.player_labs,
    )
    copy.full_clean(validate_constraints=False)
    save_or_conflict(copy, {"name": f"{scenario.consortium} got a scenario named {copy.name!r} at the same moment."})
    copy.labs.set(scenario.labs.all())
    logger.info("scenario: %s duplicated as %s (by %s)", scenario.pk, copy.pk, by)
    return copy


def scenario_archive(*, scenario: Scenario, by: Any) -> Scenario:
    """Archive: the scenario leaves the lists and starts no runs; its runs stay. Archiving again changes nothing."""
    now = timezone.now()
    Scenario.objects.filter(pk=scenario.pk, archived_at__isnull=True).update(archived_at=now, updated_at=now)
    scenario.refresh_from_db(fields=["archived_at", "updated_at"])
    logger.info("scenario: %s archived (by %s)", scenario.pk, by)
    return scenario


def scenario_unarchive(*, scenario: Scenario, by: Any) -> Scenario:
    """Bring an archived scenario back into the lists; unarchiving an active one changes nothing."""
    Scenario.objects.filter(pk=scenario.pk, archived_at__isnull=False).update(
        archived_at=None, updated_at=timezone.now()
    )
    scenario.refresh_from_db(fields=["archived_at", "updated_at"])
    logger.info("scenario: %s unarchived (by %s)", scenario.pk, by)
    return scenario


def _with_defaults(parameters: Any) -> Any:
    # Anything but a mapping is left for the model's validator to reject with its message.
    return default_parameters() | parameters if isinstance(parameters, dict) else parameters
