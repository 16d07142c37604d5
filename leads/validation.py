"""One definition of valid lead and activity input, shared by the API, CSV import and webhooks.

Each serializer rejects unknown fields by name, so a typo in an integration is reported
instead of silently dropped.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.validation import (
    CustomAttributesField,
    NormalizedEmailField,
    PropertiesField,
    StrictSerializer,
)

from .models import ActivityKind, Seniority

User = get_user_model()


def _text(max_length: int, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=max_length, required=False, allow_blank=True, trim_whitespace=True, **kwargs
    )


class LeadInput(StrictSerializer):
    email = NormalizedEmailField(max_length=254)
    first_name = _text(100)
    last_name = _text(100)
    title = _text(200)
    seniority = serializers.ChoiceField(choices=Seniority.choices, required=False, allow_blank=True)
    department = _text(100)
    phone = _text(50)
    country = _text(100)
    # A declared field (the metaclass takes it off the class), not Field.source.
    source = _text(100)  # type: ignore[assignment]
    utm_source = _text(200)
    utm_medium = _text(200)
    utm_campaign = _text(200)
    utm_term = _text(200)
    utm_content = _text(200)
    company_name = _text(255)
    company_domain = _text(255)
    industry = _text(100)
    employees = serializers.IntegerField(
        min_value=0, max_value=10_000_000, required=False, allow_null=True
    )
    annual_revenue = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    listed = serializers.BooleanField(required=False, allow_null=True)
    custom = CustomAttributesField(required=False)
    owner_email = serializers.EmailField(required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        owner_email = attrs.pop("owner_email", "")
        if owner_email:
            owner = User.objects.filter(email__iexact=owner_email, is_active=True).first()
            if owner is None:
                raise serializers.ValidationError(
                    {"owner_email": [_("No active user has this e-mail.")]}
                )
            attrs["owner"] = owner
        return attrs


class ActivityInput(StrictSerializer):
    email = NormalizedEmailField(max_length=254, required=False, help_text=_("The lead's e-mail."))
    lead_id = serializers.IntegerField(required=False, min_value=1)
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    occurred_at = serializers.DateTimeField()
    properties = PropertiesField(required=False)
    source_system = serializers.RegexField(
        r"^[a-z0-9_.-]{1,50}$",
        required=False,
        default="api",
        error_messages={"invalid": _("Use 1 to 50 lower-case letters, digits, _ . or -.")},
    )
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("email") and not attrs.get("lead_id"):
            raise serializers.ValidationError({"email": [_("Give the lead's e-mail or lead_id.")]})
        return attrs
