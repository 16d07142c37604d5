"""Input checks shared by every way in: unknown fields refused by name, errors flattened to
{"field": ["reason"]}."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

# The largest id the databases store (bigint). Larger numbers in a query would overflow the
# SQLite driver instead of simply matching nothing.
MAX_ID = 2**63 - 1


class RejectUnknownFields(serializers.Serializer):
    """Serializer base: rejects fields it does not know, naming each one. Mixed in before
    ModelSerializer, or used through StrictSerializer."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, f in self.fields.items() if not f.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializer(RejectUnknownFields, serializers.Serializer):
    """A plain serializer that rejects unknown fields."""


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"field": ["reason", ...]} with nested fields joined by dots."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix or "non_field_errors"
            for k, v in flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            out[prefix or "non_field_errors"] = [str(v) for v in detail]
        else:
            for i, value in enumerate(detail):
                for k, v in flatten_errors(value, f"{prefix}[{i}]" if prefix else str(i)).items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out
