"""factory-boy factories shared by every app's tests.

Each factory builds a valid row with plausible figures; pass keyword arguments to override any field.
Ledger rows are created directly (not through `contribution_record`) so tests can set up history
quickly; tests of the ledger's rules call the services themselves.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from consortium.models import Consortium, Membership, Scenario, default_parameters
from labs.models import Artifact, ArtifactReuse, ComputeContribution, Lab, LabMember

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password(PASSWORD)


class LabFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lab

    name = factory.Sequence(lambda n: f"Lab {n}")
    slug = factory.Sequence(lambda n: f"lab-{n}")
    kind = Lab.Kind.OPEN_WEIGHT
    country = "France"
    gpu_type = "H100"
    price_per_gpu_hour = Decimal("2.40")
    final_run_gpu_hours = 1_000_000
    rd_share = 0.80
    openness = 1.0


class LabMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LabMember

    lab = factory.SubFactory(LabFactory)
    user = factory.SubFactory(UserFactory)
    role = LabMember.Role.MEMBER


class ConsortiumFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consortium
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Consortium {n}")
    slug = factory.Sequence(lambda n: f"consortium-{n}")
    charter = "Pool research compute and share artifacts."
    currency = "USD"

    @factory.post_generation
    def coordinators(self, create, extracted, **kwargs):
        if create and extracted:
            self.coordinators.add(*extracted)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    consortium = factory.SubFactory(ConsortiumFactory)
    lab = factory.SubFactory(LabFactory)
    status = Membership.Status.MEMBER
    joined_on = datetime.date(2026, 1, 1)
    left_on = None


class ScenarioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scenario
        skip_postgeneration_save = True

    consortium = factory.SubFactory(ConsortiumFactory)
    name = factory.Sequence(lambda n: f"Scenario {n}")
    description = ""
    parameters = factory.LazyFunction(default_parameters)
    rules = factory.LazyFunction(lambda: ["shapley", "proportional"])
    draws = 200
    seed = 7

    @factory.post_generation
    def labs(self, create, extracted, **kwargs):
        if create and extracted:
            self.labs.add(*extracted)


class ComputeContributionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComputeContribution

    lab = factory.SubFactory(LabFactory)
    consortium = factory.SubFactory(ConsortiumFactory)
    entry_type = ComputeContribution.EntryType.ORIGINAL
    period_start = datetime.date(2026, 1, 1)
    period_end = datetime.date(2026, 3, 31)
    gpu_type = "H100"
    gpu_hours_pledged = Decimal("10000")
    gpu_hours_delivered = Decimal("8000")
    price_per_gpu_hour = Decimal("2.40")
    cash = Decimal("0")
    recorded_by = factory.SubFactory(UserFactory)


class ArtifactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Artifact

    lab = factory.SubFactory(LabFactory)
    kind = Artifact.Kind.DATASET
    title = factory.Sequence(lambda n: f"Artifact {n}")
    url = "https://example.org/artifact"
    licence = "Apache-2.0"
    openness = Artifact.Openness.OPEN
    research_area = "pretraining_data"
    reproduction_gpu_hours = Decimal("50000")
    release_date = datetime.date(2026, 2, 1)


class ArtifactReuseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ArtifactReuse

    artifact = factory.SubFactory(ArtifactFactory)
    reusing_lab = factory.SubFactory(LabFactory)
    reused_on = datetime.date(2026, 3, 1)
    gpu_hours_saved = Decimal("20000")
    note = ""
