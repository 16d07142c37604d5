import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone

from leads.models import Activity, ActivityKind, Company, Lead, Profile, Team


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@handoff.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("password")


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class ProfileFactory(factory.django.DjangoModelFactory[Profile]):
    class Meta:
        model = Profile
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)


class CompanyFactory(factory.django.DjangoModelFactory[Company]):
    class Meta:
        model = Company

    name = factory.Faker("company")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    industry = "Software"
    employees = 250


class LeadFactory(factory.django.DjangoModelFactory[Lead]):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@company.example")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    title = "Head of Marketing"
    source = "webinar"
    company = factory.SubFactory(CompanyFactory)


class ActivityFactory(factory.django.DjangoModelFactory[Activity]):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    kind = ActivityKind.PAGE_VIEW
    occurred_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    properties = factory.LazyFunction(lambda: {"url": "https://example.com/pricing"})
