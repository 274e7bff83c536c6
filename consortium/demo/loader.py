"""Loads the illustrative demo consortium, idempotently.

Every object is keyed (labs and consortia by slug, users by username, ledger entries by lab and
quarter, artifacts by lab and title, reuse by artifact, lab and date, scenarios by name) and only
created when missing: a second load changes nothing, and edits made in the demo survive a restart
of `make run`. Every row goes through the services the pages and the API use. Each scenario
without a run gets one queued, so the worker has results ready a minute after `make run` starts.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from rest_framework.authtoken.models import Token

from consortium import services as consortium_services
from consortium.models import Consortium, Membership, Scenario
from labs import services as lab_services
from labs.models import GPU_PRICES, Artifact, ArtifactReuse, ComputeContribution, Lab, LabMember
from simulations import services as simulation_services

from . import demo_data

DEFAULT_PASSWORD = "open-commons-demo"
EVIDENCE_NOTE = "Illustrative entry (made-up lab); see consortium/demo/labs.json."

# Which current membership statuses a scenario's "labs" selector takes in.
LAB_SELECTORS = {
    "members": {Membership.Status.MEMBER},
    "members_and_candidates": {Membership.Status.MEMBER, Membership.Status.CANDIDATE},
}


@dataclass(frozen=True)
class Credential:
    username: str
    role: str
    secret: str


@dataclass
class DemoSummary:
    consortium: Consortium
    created: Counter[str] = field(default_factory=Counter)
    credentials: list[Credential] = field(default_factory=list)
    token: str = ""


def _date(value: str) -> datetime.date:
    return datetime.date.fromisoformat(value)


def _hours(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


class _Loader:
    def __init__(self, *, password: str, reset_passwords: bool, queue_runs: bool) -> None:
        self.data = demo_data()
        # One hash for every demo user: hashing is deliberately slow and they share the password.
        self.password = password
        self.password_hash = make_password(password)
        self.reset_passwords = reset_passwords
        self.queue_runs = queue_runs
        self.created: Counter[str] = Counter()
        self.labs: dict[str, Lab] = {}
        self.lab_users: dict[str, Any] = {}

    def user(self, *, username: str, **fields: Any) -> Any:
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults=fields | {"email": f"{username}@example.org", "password": self.password_hash}
        )
        if created:
            self.created["users"] += 1
        elif self.reset_passwords:
            user.password = self.password_hash
            user.save(update_fields=["password"])
        return user

    def lab(self, spec: dict[str, Any]) -> Lab:
        lab = Lab.objects.filter(slug=spec["slug"]).first()
        if lab is None:
            lab = Lab(
                slug=spec["slug"],
                name=spec["name"],
                kind=spec["kind"],
                country=spec["country"],
                website=f"https://example.org/demo/{spec['slug']}",
                description=self.lab_description(spec),
                gpu_type=spec["gpu_type"],
                price_per_gpu_hour=GPU_PRICES[spec["gpu_type"]],
                final_run_gpu_hours=spec["final_run_gpu_hours"],
                rd_share=spec["rd_share"],
                area_weights=spec["area_weights"],
                openness=spec["openness"],
                # Listed labs can be found and invited by any consortium: the demo's "found your own
                # consortium" path needs some.
                listed_in_directory=spec.get("listed_in_directory", False),
            )
            lab.full_clean()
            lab.save()
            self.created["labs"] += 1
        return lab

    def lab_description(self, spec: dict[str, Any]) -> str:
        sources = {source["id"]: source["figure"] for source in self.data["sources"]}
        basis = "; ".join(sources[key] for key in spec["basis"])
        note = f" {spec['note']}" if spec.get("note") else ""
        return f"Illustrative lab with a made-up name.{note} Magnitudes scaled from public figures: {basis}."

    def consortium(self, coordinator: Any) -> Consortium:
        spec = self.data["consortium"]
        consortium = Consortium.objects.filter(slug=spec["slug"]).first()
        if consortium is None:
            consortium = consortium_services.consortium_create(
                created_by=coordinator,
                slug=spec["slug"],
                name=spec["name"],
                charter=spec["charter"],
                currency=spec["currency"],
                # In the directory, so a new lab can find it and apply to join.
                listed=True,
            )
            self.created["consortium"] += 1
        return consortium

    def memberships(self, consortium: Consortium, lab: Lab, spells: list[dict[str, Any]], by: Any) -> None:
        """Spells in order; each one after the first closes the previous on its start date."""
        if Membership.objects.filter(consortium=consortium, lab=lab).exists():
            return
        for spell in spells:
            consortium_services.membership_change(
                consortium=consortium, lab=lab, status=spell["status"], on_date=_date(spell["from"]), by=by
            )
            self.created["membership spells"] += 1

    def contributions(self, consortium: Consortium, spec: dict[str, Any]) -> None:
        lab, user = self.labs[spec["slug"]], self.lab_users[spec["slug"]]
        pledged = spec["pledge_per_quarter"]
        for index, (quarter, ratio) in enumerate(zip(self.data["quarters"], spec["delivery"], strict=False)):
            if ratio is None or not pledged:
                continue
            start = _date(quarter["start"])
            if self.original_entry(lab, consortium, start) is not None:
                continue
            lab_services.contribution_record(
                lab=lab,
                consortium=consortium,
                recorded_by=user,
                period_start=start,
                period_end=_date(quarter["end"]),
                gpu_type=lab.gpu_type,
                gpu_hours_pledged=_hours(pledged),
                gpu_hours_delivered=_hours(pledged * ratio),
                price_per_gpu_hour=GPU_PRICES[lab.gpu_type],
                cash=_hours(spec.get("cash_first_quarter", 0) if index == 0 else 0),
                evidence_url=f"https://example.org/demo/{lab.slug}/ledger/{start:%Y-%m}",
                evidence_note=EVIDENCE_NOTE,
            )
            self.created["ledger entries"] += 1

    @staticmethod
    def original_entry(lab: Lab, consortium: Consortium, start: datetime.date) -> ComputeContribution | None:
        return ComputeContribution.objects.filter(
            lab=lab, consortium=consortium, period_start=start, entry_type=ComputeContribution.EntryType.ORIGINAL
        ).first()

    def corrections(self, consortium: Consortium) -> None:
        for spec in self.data["corrections"]:
            lab = self.labs[spec["lab"]]
            start = _date(self.data["quarters"][spec["quarter"]]["start"])
            original = self.original_entry(lab, consortium, start)
            if original is None or ComputeContribution.objects.filter(reverses=original).exists():
                continue
            lab_services.contribution_correct(
                original=original,
                recorded_by=self.lab_users[spec["lab"]],
                reason=spec["reason"],
                gpu_hours_delivered=_hours(spec["gpu_hours_delivered"]),
            )
            self.created["ledger entries"] += 2

    def artifacts(self) -> dict[str, Artifact]:
        artifacts = {}
        for spec in self.data["artifacts"]:
            lab = self.labs[spec["lab"]]
            artifact = Artifact.objects.filter(lab=lab, title=spec["title"]).first()
            if artifact is None:
                artifact = lab_services.artifact_create(
                    lab=lab,
                    created_by=self.lab_users[spec["lab"]],
                    kind=spec["kind"],
                    title=spec["title"],
                    url=f"https://example.org/demo/{lab.slug}/artifacts/{len(artifacts) + 1}",
                    licence=spec["licence"],
                    openness=spec["openness"],
                    research_area=spec["area"],
                    reproduction_gpu_hours=_hours(spec["gpu_hours"]),
                    release_date=_date(spec["released"]),
                )
                self.created["artifacts"] += 1
            artifacts[spec["title"]] = artifact
        return artifacts

    def reuse(self, artifacts: dict[str, Artifact]) -> None:
        for spec in self.data["reuse"]:
            artifact, lab, on = artifacts[spec["artifact"]], self.labs[spec["lab"]], _date(spec["on"])
            if ArtifactReuse.objects.filter(artifact=artifact, reusing_lab=lab, reused_on=on).exists():
                continue
            lab_services.reuse_record(
                artifact=artifact,
                reusing_lab=lab,
                recorded_by=self.lab_users[spec["lab"]],
                reused_on=on,
                gpu_hours_saved=_hours(spec["gpu_hours_saved"]),
                note=spec["note"],
            )
            self.created["reuse entries"] += 1

    def scenarios(self, consortium: Consortium, coordinator: Any) -> None:
        current = {
            membership.lab_id: membership.status
            for membership in Membership.objects.current().filter(consortium=consortium)
        }
        for spec in self.data["scenarios"]:
            scenario = Scenario.objects.filter(consortium=consortium, name=spec["name"]).first()
            if scenario is None:
                statuses = LAB_SELECTORS[spec["labs"]]
                scenario = consortium_services.scenario_create(
                    consortium=consortium,
                    created_by=coordinator,
                    name=spec["name"],
                    description=spec["description"],
                    labs=[lab for lab in self.labs.values() if current.get(lab.pk) in statuses],
                    parameters=spec["parameters"],
                    rules=spec["rules"],
                    weight_basis=spec.get("weight_basis", "delivered"),
                    weight_values=spec.get("weight_values"),
                    weight_cap=spec.get("weight_cap"),
                    draws=spec["draws"],
                    seed=spec["seed"],
                )
                self.created["scenarios"] += 1
            if self.queue_runs and not scenario.runs.exists():
                simulation_services.run_create(scenario=scenario, started_by=coordinator)
                self.created["queued runs"] += 1

    def load(self) -> DemoSummary:
        users = self.data["users"]
        coordinator = self.user(**users["coordinator"])
        staff = self.user(**users["staff"], is_staff=True, is_superuser=True)
        consortium = self.consortium(coordinator)
        summary = DemoSummary(consortium=consortium, created=self.created)
        summary.credentials += [
            Credential(coordinator.username, f"coordinator of {consortium.name}", self.password),
            Credential(staff.username, "staff (admin site, reads everything)", self.password),
        ]
        for spec in self.data["labs"]:
            lab = self.labs[spec["slug"]] = self.lab(spec)
            user = self.lab_users[spec["slug"]] = self.user(username=spec["slug"], first_name=spec["name"])
            LabMember.objects.get_or_create(lab=lab, user=user, defaults={"role": LabMember.Role.MEMBER})
            # The lab's own user puts it in: a coordinator alone could only invite it.
            self.memberships(consortium, lab, spec["membership"], by=user)
            summary.credentials.append(Credential(user.username, f"lab member, {lab.name}", self.password))
        for spec in self.data["labs"]:
            self.contributions(consortium, spec)
        self.corrections(consortium)
        self.reuse(self.artifacts())
        self.scenarios(consortium, coordinator)

        client_spec = users["api_client"]
        client = self.user(username=client_spec["username"], first_name="API client")
        LabMember.objects.get_or_create(lab=self.labs[client_spec["lab"]], user=client)
        token, created = Token.objects.get_or_create(user=client)
        if created:
            self.created["API token"] += 1
        summary.token = token.key
        summary.credentials.append(
            Credential(client.username, f"API client, {self.labs[client_spec['lab']].name}", f"token {token.key}")
        )
        return summary


def demo_load(
    *, password: str = DEFAULT_PASSWORD, reset_passwords: bool = False, queue_runs: bool = True
) -> DemoSummary:
    """Create whatever part of the demo consortium is missing, in one transaction.

    Queued runs reach the broker after the commit; a worker started later picks them up.
    """
    with transaction.atomic():
        return _Loader(password=password, reset_passwords=reset_passwords, queue_runs=queue_runs).load()
