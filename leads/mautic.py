"""Mautic webhooks: check the signature, parse a delivery, map contacts to leads.

A delivery is `{"mautic.<event>": [event, ...], ...}` and may carry several event types.
The whole delivery is validated before anything is written, then applied in one
transaction, so a bad event never leaves half a delivery behind and Mautic's retry of the
corrected delivery starts from a clean slate.

Contacts become leads through `LeadInput`, the one definition of valid lead input, and are
linked by their Mautic id (`LeadIdentity`) so a later e-mail change finds the same lead.
Activities carry a stable external id, so a resent delivery creates nothing new.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from rest_framework import serializers

from core.validation import email_key, flatten_errors, properties_check

from .models import ActivityKind, Lead, LeadIdentity
from .services import activity_add, lead_changes_batched, lead_mark_deleted, lead_upsert
from .validation import LeadInput

SOURCE_SYSTEM = "mautic"
SIGNATURE_HEADER = "Webhook-Signature"

LEAD_SAVED_NEW = "mautic.lead_post_save_new"
LEAD_SAVED_UPDATE = "mautic.lead_post_save_update"
LEAD_POINTS = "mautic.lead_points_change"
LEAD_DELETED = "mautic.lead_post_delete"
FORM_SUBMITTED = "mautic.form_on_submit"
PAGE_HIT = "mautic.page_on_hit"
EMAIL_OPENED = "mautic.email_on_open"

# Where each handled event keeps its contact, and the keys of the activity object.
CONTACT_PATH: dict[str, tuple[str, ...]] = {
    LEAD_SAVED_NEW: ("contact",),
    LEAD_SAVED_UPDATE: ("contact",),
    LEAD_POINTS: ("contact",),
    LEAD_DELETED: ("contact",),
    FORM_SUBMITTED: ("submission", "lead"),
    PAGE_HIT: ("hit", "lead"),
    EMAIL_OPENED: ("stat", "lead"),
}
HANDLED_TYPES = frozenset(CONTACT_PATH)

# Mautic core field alias -> LeadInput field. Every other non-empty core field is kept as
# custom.mautic_<alias>, so nothing Mautic knows about a contact is lost.
CORE_FIELDS = {
    "email": "email",
    "firstname": "first_name",
    "lastname": "last_name",
    "position": "title",
    "phone": "phone",
    "country": "country",
    "company": "company_name",
    "website": "company_domain",
}
POINTS_KEY = "mautic_points"

# Form names that clearly ask for sales, matched on the form's name and alias lower-cased
# with punctuation turned into spaces. Aliases are names with the spaces removed
# ("Request a demo" -> "requestademo"), hence the optional spaces. A bare "demo" word also
# counts; "demographics" does not. Anything else is a plain form submission.
DEMO_FORM = re.compile(r"\bdemos?\b|demo ?request|request ?(a ?)?demo|book ?(a ?)?demo")
CONTACT_SALES_FORM = re.compile(
    r"contact ?(the ?|our ?)?sales|talk ?to ?(the ?|our ?)?sales|sales ?(contact|inquiry|enquiry)"
)


class MauticPayloadError(Exception):
    """The delivery is not one we can apply; `errors` names each offending path."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def signature_is_valid(*, body: bytes, signature: str, secret: str) -> bool:
    """Webhook-Signature is base64(HMAC-SHA256(secret, raw body))."""
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def form_activity_kind(*, name: str, alias: str) -> str:
    text = re.sub(r"[^a-z0-9]+", " ", f"{name} {alias}".lower())
    if DEMO_FORM.search(text):
        return ActivityKind.DEMO_REQUEST
    if CONTACT_SALES_FORM.search(text):
        return ActivityKind.CONTACT_SALES
    return ActivityKind.FORM_SUBMIT


@dataclass
class MauticEvent:
    type: str
    path: str
    contact_id: str | None
    # Validated LeadInput data; no "email" when the contact is anonymous.
    lead_data: dict[str, Any]
    activity: dict[str, Any] | None = None
    # When the event happened in Mautic (UTC), if it says; orders events per contact.
    at: dt.datetime | None = None


@dataclass
class MauticDelivery:
    events: list[MauticEvent] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _scalar(value: Any) -> Any:
    """A custom attribute value: text stripped, numbers kept, lists joined as Mautic does."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return "|".join(str(v) for v in value if not isinstance(v, dict | list))
    if isinstance(value, dict):
        return None
    return value


def _domain(website: str) -> str:
    text = website.strip().lower()
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _points(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _external_ref(value: Any) -> str | None:
    if isinstance(value, bool) or _is_blank(value):
        return None
    if isinstance(value, int | str):
        return str(value).strip()
    return None


def _time(
    event: Mapping[str, Any],
    keys: list[tuple[str, ...]],
    path: str,
    errs: _Errors,
    *,
    required: bool = True,
) -> dt.datetime | None:
    """The first of `keys` present in the event, parsed with its offset, in UTC."""
    for key in keys:
        value: Any = event
        for part in key:
            value = value.get(part) if isinstance(value, Mapping) else None
        if _is_blank(value):
            continue
        where = ".".join((path, *key))
        parsed = None
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
        if parsed is None:
            errs.add(where, _("Not a date and time."))
            return None
        if parsed.tzinfo is None:
            # Mautic stores and sends UTC; a missing offset means UTC.
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    if required:
        errs.add(".".join((path, *keys[0])), _("Missing date and time."))
    return None


def _core_fields(contact: Mapping[str, Any], path: str, errs: _Errors) -> dict[str, Any]:
    fields = contact.get("fields")
    if fields is None or fields == []:
        return {}
    if not isinstance(fields, Mapping):
        errs.add(f"{path}.fields", _("Expected an object."))
        return {}
    core = fields.get("core")
    # PHP sends an empty group as [].
    if core is None or core == []:
        return {}
    if not isinstance(core, Mapping):
        errs.add(f"{path}.fields.core", _("Expected an object."))
        return {}
    values = {}
    for alias, item in core.items():
        values[str(alias)] = item.get("value") if isinstance(item, Mapping) else item
    return values


def _lead_data(
    contact: Mapping[str, Any], path: str, errs: _Errors, points: int | None = None
) -> dict[str, Any]:
    """Map a Mautic contact to LeadInput and validate it; {} when it is invalid."""
    core = _core_fields(contact, path, errs)
    data: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for alias, value in core.items():
        if _is_blank(value) or alias == "points":
            continue
        target = CORE_FIELDS.get(alias)
        if target == "company_domain":
            domain = _domain(str(value))
            if domain:
                data[target], sources[target] = domain, alias
            else:
                custom[f"mautic_{alias}"] = str(value).strip()
        elif target:
            data[target], sources[target] = str(value).strip(), alias
        else:
            item = _scalar(value)
            if not _is_blank(item):
                custom[f"mautic_{alias}"] = item
    mobile = custom.get("mautic_mobile")
    if "phone" not in data and mobile:
        data["phone"], sources["phone"] = str(custom.pop("mautic_mobile")), "mobile"
    if points is None:
        points = _points(contact.get("points"))
    if points is None:
        points = _points(core.get("points"))
    if points is not None:
        custom[POINTS_KEY] = points
    if custom:
        data["custom"] = custom
    # An anonymous visitor has no e-mail yet; it is matched by its Mautic id instead.
    serializer = LeadInput(data=data, partial="email" not in data)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    for name, messages in flatten_errors(serializer.errors).items():
        top = name.split(".")[0]
        where = f"{path}.fields.core"
        if top in sources:
            where = f"{where}.{sources[top]}"
        for message in messages:
            errs.add(where, message)
    return {}


def _contact(
    event: Mapping[str, Any], event_type: str, path: str, errs: _Errors
) -> tuple[Mapping[str, Any] | None, str]:
    keys = CONTACT_PATH[event_type]
    value: Any = event
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    where = ".".join((path, *keys))
    if not isinstance(value, Mapping):
        errs.add(where, _("Missing contact.") if value is None else _("Expected an object."))
        return None, where
    return value, where


def _activity(
    event: Mapping[str, Any], event_type: str, path: str, contact_key: str, errs: _Errors
) -> dict[str, Any] | None:
    if event_type == PAGE_HIT:
        hit = event["hit"]
        page = hit.get("page") if isinstance(hit.get("page"), Mapping) else {}
        occurred_at = _time(event, [("hit", "dateHit"), ("timestamp",)], path, errs)
        kind: str = ActivityKind.PAGE_VIEW
        ref = _external_ref(hit.get("id"))
        external_id = f"hit:{ref}" if ref else None
        discriminator = hit.get("url")
        properties = {
            "url": hit.get("url"),
            "title": page.get("title") or hit.get("urlTitle"),
            "referer": hit.get("referer"),
            "mautic_page_id": page.get("id"),
        }
    elif event_type == FORM_SUBMITTED:
        submission = event["submission"]
        form = submission.get("form") if isinstance(submission.get("form"), Mapping) else {}
        page = submission.get("page") if isinstance(submission.get("page"), Mapping) else {}
        name, alias = str(form.get("name") or ""), str(form.get("alias") or "")
        occurred_at = _time(event, [("submission", "dateSubmitted"), ("timestamp",)], path, errs)
        kind = form_activity_kind(name=name, alias=alias)
        ref = _external_ref(submission.get("id"))
        external_id = f"submission:{ref}" if ref else None
        discriminator = form.get("id")
        results = submission.get("results")
        properties = {
            "form_id": form.get("id"),
            "form_name": name,
            "form_alias": alias,
            # The page the form sits on: Mautic's landing page if it has one, else where
            # the visitor submitted it from.
            "url": page.get("url") or submission.get("referer"),
            "page_title": page.get("title"),
            "referer": submission.get("referer"),
            "results": results if isinstance(results, Mapping) else None,
        }
    else:
        stat = event["stat"]
        email = stat.get("email") if isinstance(stat.get("email"), Mapping) else {}
        occurred_at = _time(
            event,
            [("stat", "dateRead"), ("stat", "lastOpened"), ("timestamp",)],
            path,
            errs,
        )
        kind = ActivityKind.EMAIL_OPEN
        # One activity per e-mail sent: a stat is the send, so later opens resend its id.
        ref = _external_ref(stat.get("id"))
        external_id = f"stat:{ref}" if ref else None
        discriminator = email.get("id")
        properties = {
            "email_id": email.get("id"),
            "email_name": email.get("name"),
            "email_subject": email.get("subject"),
        }
    if occurred_at is None:
        return None
    properties = {k: v for k, v in properties.items() if not _is_blank(v)}
    try:
        properties_check(properties)
    except serializers.ValidationError as exc:
        for name, messages in flatten_errors(exc.detail).items():
            for message in messages:
                errs.add(
                    f"{path}.properties.{name}" if name != "non_field_errors" else path, message
                )
        return None
    if external_id is None:
        # No id from Mautic: hash what identifies the event, with the time in UTC so the
        # same moment written with another offset is still the same event.
        key = "|".join((event_type, contact_key, occurred_at.isoformat(), str(discriminator or "")))
        external_id = f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return {
        "kind": kind,
        "occurred_at": occurred_at,
        "external_id": external_id,
        "properties": properties,
    }


def _parse_event(event: Any, event_type: str, path: str, errs: _Errors) -> MauticEvent | None:
    if not isinstance(event, Mapping):
        errs.add(path, _("Expected an object."))
        return None
    contact, contact_path = _contact(event, event_type, path, errs)
    if contact is None:
        return None
    contact_id = _external_ref(contact.get("id"))
    if contact_id is None and event_type == LEAD_DELETED:
        # Mautic has already removed the row, so contact.id is null; the id rides beside it.
        contact_id = _external_ref(event.get("id"))
    points = None
    if event_type == LEAD_POINTS and isinstance(event.get("points"), Mapping):
        new_points = event["points"].get("new_points")
        if new_points is not None:
            points = _points(new_points)
            if points is None:
                errs.add(f"{path}.points.new_points", _("A whole number is required."))
    before = len(errs.errors)
    lead_data = _lead_data(contact, contact_path, errs, points=points)
    if len(errs.errors) > before:
        return None
    activity = None
    if event_type in (PAGE_HIT, FORM_SUBMITTED, EMAIL_OPENED):
        contact_key = contact_id or str(lead_data.get("email", "")).lower()
        activity = _activity(event, event_type, path, contact_key, errs)
        at = activity["occurred_at"] if activity else None
    else:
        # The event's own time; older senders give only the contact's modification time.
        at = _time(
            event,
            [("timestamp",), (*CONTACT_PATH[event_type], "dateModified")],
            path,
            errs,
            required=False,
        )
    return MauticEvent(
        type=event_type,
        path=path,
        contact_id=contact_id,
        lead_data=lead_data,
        activity=activity,
        at=at,
    )


def mautic_delivery_parse(*, payload: Any) -> MauticDelivery:
    """Validate a whole delivery. Raises MauticPayloadError naming every bad path."""
    if not isinstance(payload, Mapping):
        raise MauticPayloadError(
            {"body": [_('Expected a JSON object such as {"mautic.page_on_hit": [...]}.')]}
        )
    errs = _Errors()
    delivery = MauticDelivery()
    for event_type, events in payload.items():
        if event_type not in HANDLED_TYPES:
            delivery.ignored.append(str(event_type))
            continue
        if not isinstance(events, list):
            errs.add(event_type, _("Expected a list of events."))
            continue
        for index, event in enumerate(events):
            parsed = _parse_event(event, event_type, f"{event_type}[{index}]", errs)
            if parsed is not None:
                delivery.events.append(parsed)
    if errs.errors:
        raise MauticPayloadError(errs.errors)
    return delivery


def _identity_locked(contact_id: str | None) -> LeadIdentity | None:
    """The contact's link, locked: two deliveries for one contact apply one after the other."""
    if contact_id is None:
        return None
    return (
        LeadIdentity.objects.select_for_update()
        .select_related("lead")
        .filter(source_system=SOURCE_SYSTEM, external_id=contact_id)
        .first()
    )


def _is_stale(link: LeadIdentity, at: dt.datetime | None) -> bool:
    """An event older than the last one applied to its contact (or, for a lead Mautic
    deleted, not newer than the deletion): replayed or retried out of order."""
    if at is None or link.last_event_at is None:
        return False
    if link.lead.deleted_at is not None:
        return at <= link.last_event_at
    return at < link.last_event_at


def _remember(contact_id: str | None, at: dt.datetime | None) -> None:
    if contact_id is None or at is None:
        return
    LeadIdentity.objects.filter(
        Q(last_event_at__isnull=True) | Q(last_event_at__lt=at),
        source_system=SOURCE_SYSTEM,
        external_id=contact_id,
    ).update(last_event_at=at)


@transaction.atomic
def mautic_delivery_apply(*, delivery: MauticDelivery) -> dict[str, Any]:
    """Write a parsed delivery: leads, activities and deletions, all or nothing.

    Each contact remembers the time of the last event applied to it: an older event (a
    replay, or Mautic's retries arriving out of order) never overwrites newer fields and
    never touches a lead Mautic deleted later; its activity is still recorded (history,
    idempotent by id)."""
    processed: Counter[str] = Counter()
    created = {"leads": 0, "activities": 0, "duplicates": 0}
    deleted = 0
    skipped: list[dict[str, str]] = []
    stale_reason = _("Older than the last event applied to this contact: its fields were kept.")
    for event in delivery.events:
        identity = (SOURCE_SYSTEM, event.contact_id) if event.contact_id else None
        email = event.lead_data.get("email")
        link = _identity_locked(event.contact_id)
        if event.type == LEAD_DELETED:
            lead = link.lead if link else None
            if lead is None and email:
                lead = (
                    Lead.objects.alias(email_ci=Lower("email"))
                    .filter(email_ci=email_key(email))
                    .first()
                )
            if lead is None:
                skipped.append({"path": event.path, "reason": _("Unknown contact.")})
                continue
            deleted += lead.deleted_at is None
            lead_mark_deleted(lead=lead)
            _remember(event.contact_id, event.at)
            processed[event.type] += 1
            continue
        if link is not None and _is_stale(link, event.at):
            if event.activity is None:
                skipped.append({"path": event.path, "reason": stale_reason})
            else:
                # The activity is history and is recorded; the contact's older fields are not.
                activity_created = activity_add(
                    lead=link.lead, source_system=SOURCE_SYSTEM, **event.activity
                )[1]
                created["activities" if activity_created else "duplicates"] += 1
                processed[event.type] += 1
            continue
        data = event.lead_data
        if not email:
            known = link.lead if link else None
            if known is None:
                skipped.append(
                    {"path": event.path, "reason": _("Anonymous contact: no e-mail yet.")}
                )
                continue
            data = {**data, "email": known.email}
        lead, lead_created = lead_upsert(data=data, identity=identity)
        _remember(event.contact_id, event.at)
        created["leads"] += lead_created
        if event.activity is not None:
            activity_created = activity_add(
                lead=lead, source_system=SOURCE_SYSTEM, **event.activity
            )[1]
            created["activities" if activity_created else "duplicates"] += 1
        processed[event.type] += 1
    return {
        "processed": dict(processed),
        "created": created,
        "deleted": deleted,
        "ignored": delivery.ignored,
        "skipped": skipped,
    }


def mautic_delivery_process(*, payload: Any) -> dict[str, Any]:
    """Validate the whole delivery, then apply it in one transaction."""
    delivery = mautic_delivery_parse(payload=payload)
    # The rescoring of every lead the delivery touched is enqueued once, after it commits.
    with lead_changes_batched():
        return mautic_delivery_apply(delivery=delivery)
