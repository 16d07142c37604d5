"""What both agreements (scoring rule sets, the SLA) share: versions with one draft at a time,
approvals by side, and the permissions to approve and publish."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager


class Side(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")


class SignedVersionBase(models.Model):
    """A version of an agreement both teams sign: one draft at a time, edited by both, then
    published read-only; the one before it retires (signoff.services)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        RETIRED = "retired", _("Retired")

    number = models.PositiveIntegerField(_("version"), unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Each concrete version's approvals: its ApprovalBase subclass, related_name="approvals".
    approvals: RelatedManager[ApprovalBase]

    class Meta:
        abstract = True
        ordering = ["-number"]

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT


class ApprovalBase(models.Model):
    """One person's sign-off of a draft for one side."""

    Side = Side

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    side = models.CharField(_("side"), max_length=10, choices=Side.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.user} ({self.side})"


class SignOff(models.Model):
    """No rows: it carries the permissions that hold for every agreement."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("approve_as_marketing", _("Can approve agreements for marketing")),
            ("approve_as_sales", _("Can approve agreements for sales")),
            ("publish_version", _("Can publish an approved agreement")),
        ]

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
