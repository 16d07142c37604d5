"""Input checks shared by every way in: unknown fields refused by name, errors flattened to
{"field": ["reason"]}."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
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
            out[printable(prefix) or "non_field_errors"] = [printable(str(v)) for v in detail]
        else:
            for i, value in enumerate(detail):
                for k, v in flatten_errors(value, f"{prefix}[{i}]" if prefix else str(i)).items():
                    out.setdefault(k, []).extend(v)
    else:
        out[printable(prefix) or "non_field_errors"] = [printable(str(detail))]
    return out


# Text and JSON limits ------------------------------------------------------------------------
# One set of limits for every way in (API, CSV import, webhooks); the README lists them.

# Custom attributes of a lead: flat values (text, number, true/false, null).
MAX_CUSTOM_KEYS = 100
MAX_KEY_LENGTH = 100
MAX_CUSTOM_TEXT = 2_000  # characters of one text value
MAX_CUSTOM_BYTES = 16 * 1024  # the whole object, as UTF-8 JSON
# Properties of an activity: may nest (a form's results), a little deeper and larger.
MAX_PROPERTY_KEYS = 100
MAX_PROPERTY_TEXT = 10_000
MAX_PROPERTIES_BYTES = 64 * 1024
MAX_JSON_DEPTH = 5


def text_problem(text: str) -> str | None:
    """Why this text cannot be stored (NUL, an unpaired surrogate), or None.

    PostgreSQL refuses NUL in text and JSON, and a lone surrogate cannot be encoded as UTF-8;
    either would otherwise fail as a database error after part of a request was written.
    """
    if "\x00" in text:
        return str(_("Text must not contain NUL characters."))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return str(_("Text must not contain unpaired surrogates (invalid Unicode)."))
    return None


def printable(text: str) -> str:
    """Text safe to echo in a JSON answer: unpaired surrogates escaped as \\udxxx."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def json_text_problems(value: Any, path: str = "") -> dict[str, list[str]]:
    """Every key and text inside a parsed JSON value that cannot be stored, by dotted path."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                problems.setdefault(where or "non_field_errors", []).append(problem)
        elif isinstance(item, dict):
            for key, child in item.items():
                name = printable(str(key))
                child_path = f"{where}.{name}" if where else name
                if isinstance(key, str) and (problem := text_problem(key)):
                    problems.setdefault(child_path, []).append(problem)
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(item))
    return problems


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def json_object_check(
    value: Any, *, max_keys: int, max_text: int, max_bytes: int, flat: bool
) -> dict:
    """A JSON object within the limits, or ValidationError naming the key and the reason."""
    if not isinstance(value, dict):
        raise serializers.ValidationError(_("Expected an object."))
    problems = json_text_problems(value)
    if problems:
        raise serializers.ValidationError(problems)
    if len(value) > max_keys:
        raise serializers.ValidationError(_("At most %(n)d keys.") % {"n": max_keys})
    errors: dict[str, list[Any]] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
            errors.setdefault(str(key)[:MAX_KEY_LENGTH], []).append(
                _("Keys must be text of 1 to %(n)d characters.") % {"n": MAX_KEY_LENGTH}
            )
            continue
        if flat and isinstance(item, dict | list):
            errors.setdefault(key, []).append(
                _("Values must be text, numbers, true/false or null.")
            )
        elif isinstance(item, float) and not math.isfinite(item):
            errors.setdefault(key, []).append(_("A finite number is required."))
        elif _depth(item) >= MAX_JSON_DEPTH:
            errors.setdefault(key, []).append(
                _("Nested more than %(n)d levels deep.") % {"n": MAX_JSON_DEPTH}
            )
        else:
            long = _longest_text(item)
            if long > max_text:
                errors.setdefault(key, []).append(
                    _("Text longer than %(n)d characters (got %(got)d).")
                    % {"n": max_text, "got": long}
                )
    if errors:
        raise serializers.ValidationError(errors)
    size = len(json.dumps(value, ensure_ascii=False, allow_nan=False, default=str).encode())
    if size > max_bytes:
        raise serializers.ValidationError(
            _("At most %(n)d bytes as JSON (got %(got)d).") % {"n": max_bytes, "got": size}
        )
    return value


def _longest_text(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((_longest_text(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((_longest_text(v) for v in value), default=0)
    return 0


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_CUSTOM_KEYS,
        "additionalProperties": {
            "nullable": True,
            "oneOf": [
                {"type": "string", "maxLength": MAX_CUSTOM_TEXT},
                {"type": "number"},
                {"type": "boolean"},
            ],
        },
        "description": "Flat values: text (up to 2,000 characters), numbers, true/false or "
        "null; keys of 1 to 100 characters; 16 KB as JSON in all.",
    }
)
class CustomAttributesField(serializers.DictField):
    """A lead's custom attributes: flat, bounded, storable text."""

    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        return json_object_check(
            value,
            max_keys=MAX_CUSTOM_KEYS,
            max_text=MAX_CUSTOM_TEXT,
            max_bytes=MAX_CUSTOM_BYTES,
            flat=True,
        )


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_PROPERTY_KEYS,
        "additionalProperties": {},
        "description": "Any JSON, nested up to 5 levels; text up to 10,000 characters; keys of "
        "1 to 100 characters; 64 KB as JSON in all.",
    }
)
class PropertiesField(serializers.DictField):
    """An activity's properties: may nest a little, bounded, storable text."""

    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        return properties_check(value)


def properties_check(value: Any) -> dict:
    return json_object_check(
        value,
        max_keys=MAX_PROPERTY_KEYS,
        max_text=MAX_PROPERTY_TEXT,
        max_bytes=MAX_PROPERTIES_BYTES,
        flat=False,
    )


def storable_json(value: Any) -> Any:
    """A validator for free JSON fields: every key and text storable."""
    problems = json_text_problems(value)
    if problems:
        raise serializers.ValidationError(problems)
    return value


# E-mail addresses ----------------------------------------------------------------------------


def email_normalize(value: str) -> str:
    """One spelling per mailbox: trimmed, the domain in IDNA ASCII form and lower case.

    The local part keeps its case; mailboxes are compared with the database's LOWER() (see
    `db_lower`), the rule its case-insensitive unique index uses. Raises ValueError if the
    domain is not a valid internationalised domain name.
    """
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError("not an e-mail address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("not a valid domain") from None
    return f"{local}@{ascii_domain.lower()}"


def db_lower(values: Iterable[str]) -> dict[str, str]:
    """{text: LOWER(text) as the database computes it}, the case-folding its unique indexes
    use. ASCII text is folded here (every database agrees on it); the rest in one query per
    500 values."""
    out: dict[str, str] = {}
    rest: list[str] = []
    for value in set(values):
        if value.isascii():
            out[value] = value.lower()
        else:
            rest.append(value)
    with connection.cursor() as cursor:
        for start in range(0, len(rest), 500):
            chunk = rest[start : start + 500]
            cursor.execute(
                "SELECT " + ", ".join(["LOWER(%s)"] * len(chunk)),
                chunk,
            )
            out.update(zip(chunk, cursor.fetchone(), strict=True))
    return out


def email_key(email: str) -> str:
    """The mailbox as the database's case-insensitive unique index sees it."""
    return db_lower([email])[email]


class NormalizedEmailField(serializers.EmailField):
    """An e-mail address, checked and normalised (see `email_normalize`)."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value:
            return value
        if not value.rpartition("@")[0].isascii():
            # Django's check lets a few letters through by case-folding (İ, the Kelvin
            # sign); Python and the databases fold those differently.
            raise serializers.ValidationError(
                _("Use only ASCII characters before the @ (the domain may be international).")
            )
        try:
            normalized = email_normalize(value)
        except ValueError:
            self.fail("invalid")
        if self.max_length is not None and len(normalized) > self.max_length:
            raise serializers.ValidationError(
                _("Ensure this field has no more than %(n)d characters (in IDNA form).")
                % {"n": self.max_length}
            )
        return normalized
