"""Sign-off that people notice: the other side's managers hear of a draft ready for approval,
an approval, a withdrawal and a publication, in the app and by e-mail in their language."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from notifications.models import Notification
from scoring import services
from sla import services as sla_services

from .helpers import make_version, rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(alice):
    live = make_version(number=1, threshold=50)
    rule(live, "fit", "CTO", field="title", operator="contains", value="cto", points=20)
    return services.draft_get_or_create(user=alice)


def _notices(user, kind):
    return list(Notification.objects.filter(user=user, kind=kind))


def test_ready_approved_withdrawn_and_published_reach_the_other_side(
    client, alice, carol, bob, draft, django_capture_on_commit_callbacks, celery_eager
):
    carol.profile.language = "ja"
    carol.profile.save()
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("scoring:draft_request"), follow=True)
    assert "1 manager of the other side was asked to approve it." in response.content.decode()
    [asked] = _notices(carol, "approval_requested")
    assert asked.subject == "Alice Marketing さんが スコアリングの下書き v2 の承認を依頼しました"
    assert asked.url == "/scoring/#draft"
    assert not Notification.objects.filter(user__in=[alice, bob]).exists()
    [email] = mail.outbox
    assert email.to == [carol.email] and email.subject == asked.subject
    assert "http" in email.body and "/scoring/#draft" in email.body

    services.rule_update(rule=draft.rules.get(), data={"points": 30}, user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        services.ruleset_approve(version=draft, user=carol)
    [approved] = _notices(alice, "approved")
    assert approved.subject == "Carol Boss approved the scoring draft v2"
    assert approved.body == "Still waiting for: Marketing."

    services.rule_update(rule=draft.rules.get(), data={"points": 35}, user=alice)
    [withdrawn] = _notices(carol, "withdrawn")
    assert "承認" in withdrawn.subject

    services.ruleset_approve(version=draft, user=alice)
    services.ruleset_approve(version=draft, user=carol)
    services.ruleset_publish(version=draft, user=carol)
    [published] = _notices(alice, "published")
    assert published.subject == "Carol Boss published the scoring draft v2"
    assert not Notification.objects.filter(user=bob).exists()


def test_the_author_cannot_approve_an_unchanged_draft_and_is_told_why(client, alice, carol, draft):
    with pytest.raises(ValidationError, match="no changes from the version in force"):
        services.ruleset_approve(version=draft, user=alice)
    client.force_login(alice)
    response = client.post(reverse("scoring:draft_approve"), follow=True)
    assert "Draft v2 is yours and has no changes from the version in force" in (
        response.content.decode()
    )
    assert not draft.approvals.exists()
    # Someone else may still agree that nothing changes; after a change the author may too.
    services.ruleset_approve(version=draft, user=carol)
    services.draft_settings_update(version=draft, data={"mql_threshold": 55}, user=alice)
    services.ruleset_approve(version=draft, user=alice)
    assert list(draft.approvals.values_list("side", flat=True)) == ["marketing"]


def test_sla_sign_off_notifies_the_other_side_too(alice, carol, sla):
    draft = sla_services.sla_draft_get_or_create(user=carol)
    sla_services.sla_draft_update(version=draft, data={"accept_within_hours": 2}, user=carol)
    sla_services.sla_request_approval(version=draft, user=carol)
    sla_services.sla_approve(version=draft, user=carol)
    assert [n.kind for n in Notification.objects.filter(user=alice).order_by("id")] == [
        "approval_requested",
        "approved",
    ]
    assert Notification.objects.filter(user=alice).first().url == "/sla/#draft"
    sla_services.sla_approve(version=draft, user=alice)
    sla_services.sla_publish(version=draft, user=alice)
    assert Notification.objects.filter(user=carol, kind="published").count() == 1
    with pytest.raises(ValidationError, match="no changes"):
        unchanged = sla_services.sla_draft_get_or_create(user=alice)
        sla_services.sla_approve(version=unchanged, user=alice)
