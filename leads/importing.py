"""CSV import of leads: a column mapping, two streaming passes, writes in chunks.

A mapping is a JSON object (``leads/mappings/x_education.json`` is a full example)::

    {
      "description": "Free text, ignored.",
      "time_zone": "Asia/Tokyo",
      "placeholders": ["Select"],
      "email_template": "{Prospect ID}@xeducation.invalid",
      "columns": [
        {"column": "E-mail", "to": "email"},
        {"column": "Lead Source", "to": "source"},
        {"column": "TotalVisits", "to": "custom.total_visits", "type": "int"},
        {"column": "Do Not Email", "to": "custom.do_not_email", "type": "bool"},
        {"column": "Specialization", "to": "custom.specialization",
         "placeholders": ["Select Specialization"]},
        {"column": "MQL date", "to": "mql_at"},
        {"column": "Rejected on", "to": "rejected_at"},
        {"column": "Why rejected", "to": "rejection_reason"}
      ]
    }

- ``columns`` (required): one entry per CSV column used. ``to`` is a LeadInput field
  (``email``, ``first_name``, ..., ``company_name``, ``industry``, ``employees``,
  ``annual_revenue``, ``listed``, ``owner_email``), ``custom.<key>`` for a custom attribute,
  or a history field: ``mql_at``, ``sal_at``, ``sql_at``, ``rejected_at``, ``recycled_at``,
  ``disqualified_at`` (ISO 8601 timestamps) and ``rejection_reason`` (a RejectionReason code
  or its English label). ``type`` is ``text`` (default), ``int``, ``float`` or ``bool``
  (yes/no, true/false, y/n, 1/0, on/off in any case); history fields take no type.
- ``placeholders``: cell values that mean "empty" in every column (each column may add its
  own). Blank cells are empty too. An empty cell never overwrites a known value and never
  sets a custom attribute.
- ``email_template``: builds the e-mail from other columns, ``{Column name}`` standing for a
  cell, when no column maps to ``email`` or the row's e-mail is empty. For files without
  e-mails that carry a stable id, so that a re-import finds the same leads.
- ``time_zone``: the zone of timestamps written without an offset (default UTC).

History becomes StageEvents (origin "import") in lifecycle order: lead→MQL at mql_at,
then MQL→SAL at sal_at or MQL→rejected at rejected_at, then SAL→SQL, →recycled or
→disqualified. Each step is checked with the lifecycle rules of ``lead_transition``, and an
event the lead already has (same stage, same time) is skipped, so a re-import adds nothing.

The file is read twice and never held in memory: pass 1 checks the structure (UTF-8, every
row as wide as the header) and counts rows, and fails naming the line before anything is
written; pass 2 validates each row with LeadInput and writes ``CHUNK_SIZE`` rows per
transaction. A bad row is rejected with its line number and writes nothing.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import math
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from pathlib import Path
from typing import IO, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from rest_framework import serializers

from .models import ImportJob, Lead, RejectionReason, Stage, StageEvent
from .services import (
    COMPANY_ATTRIBUTES,
    LEAD_ATTRIBUTES,
    _company_for,
    lead_transition,
    notify_lead_changed,
)
from .validation import LeadInput, flatten_errors

CHUNK_SIZE = 500
MAX_ERRORS = 1000
# A line longer than this is not a lead; reading it whole could exhaust memory.
MAX_LINE_BYTES = 1024 * 1024
MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"

TYPES = ("text", "int", "float", "bool")
TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "on"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "off"})
# History field -> (stage, step in the lifecycle). Events are replayed by step, then time.
HISTORY_FIELDS: dict[str, tuple[str, int]] = {
    "mql_at": (Stage.MQL, 0),
    "sal_at": (Stage.SAL, 1),
    "rejected_at": (Stage.REJECTED, 1),
    "sql_at": (Stage.SQL, 2),
    "recycled_at": (Stage.RECYCLED, 2),
    "disqualified_at": (Stage.DISQUALIFIED, 2),
}
REASON_FIELD = "rejection_reason"
MAPPING_KEYS = ("description", "time_zone", "placeholders", "email_template", "columns")
COLUMN_KEYS = ("column", "to", "type", "placeholders")
_TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")

EXAMPLE_MAPPING: dict[str, Any] = {
    "time_zone": "UTC",
    "placeholders": ["Select"],
    "columns": [
        {"column": "Email", "to": "email"},
        {"column": "First name", "to": "first_name"},
        {"column": "Last name", "to": "last_name"},
        {"column": "Company", "to": "company_name"},
        {"column": "Source", "to": "source"},
        {"column": "Visits", "to": "custom.visits", "type": "int"},
        {"column": "Newsletter", "to": "custom.newsletter", "type": "bool"},
        {"column": "MQL at", "to": "mql_at"},
    ],
}


def _quote(value: Any) -> str:
    """A value as JSON, so blanks and odd characters show; Japanese stays readable."""
    return json.dumps(value, ensure_ascii=False)


class ImportFailed(Exception):
    """The file or the mapping cannot be imported at all; nothing was written."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class MappingError(ImportFailed):
    """The mapping itself is wrong; the message names the mapping key."""


@cache
def lead_fields() -> frozenset[str]:
    """The LeadInput fields a column may fill (custom attributes go through custom.<key>)."""
    return frozenset(LeadInput().fields) - {"custom"}


@dataclass(frozen=True)
class ColumnSpec:
    column: str
    to: str
    type: str = "text"
    placeholders: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ImportMapping:
    columns: tuple[ColumnSpec, ...]
    time_zone: zoneinfo.ZoneInfo
    placeholders: frozenset[str] = frozenset()
    email_template: str = ""

    @property
    def template_columns(self) -> list[str]:
        return _TEMPLATE_FIELD.findall(self.email_template)

    @property
    def used_columns(self) -> list[str]:
        names = [spec.column for spec in self.columns] + self.template_columns
        return list(dict.fromkeys(names))

    def lead_update_fields(self) -> list[str]:
        """The Lead columns an import with this mapping can change."""
        targets = {spec.to for spec in self.columns}
        fields = [attr for attr in LEAD_ATTRIBUTES if attr in targets]
        if any(t.startswith("custom.") for t in targets):
            fields.append("custom")
        if "owner_email" in targets:
            fields.append("owner")
        if targets & {"company_name", "company_domain", *COMPANY_ATTRIBUTES}:
            fields.append("company")
        return [*fields, "updated_at"]


def _str_list(value: Any, key: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MappingError(_("%(key)s: give a list of texts.") % {"key": key})
    return frozenset(v.strip() for v in value)


def mapping_decode(text: str | bytes) -> Any:
    """JSON text -> object, or a MappingError naming the position of the mistake."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MappingError(
            _("mapping: not valid JSON (line %(line)d, column %(col)d: %(error)s).")
            % {"line": exc.lineno, "col": exc.colno, "error": exc.msg}
        ) from None
    except UnicodeDecodeError:
        raise MappingError(_("mapping: the file is not UTF-8 text.")) from None


def mapping_load(raw: str | bytes | Mapping[str, Any]) -> ImportMapping:
    """Check a mapping (JSON text or a decoded object) without looking at a file."""
    if isinstance(raw, str | bytes):
        raw = mapping_decode(raw)
    if not isinstance(raw, Mapping):
        raise MappingError(_("mapping: give a JSON object with a list of columns."))
    for key in raw:
        if key not in MAPPING_KEYS:
            raise MappingError(
                _("%(key)s: unknown mapping key; use %(keys)s.")
                % {"key": key, "keys": ", ".join(MAPPING_KEYS)}
            )

    tz_name = raw.get("time_zone", "UTC")
    try:
        if not isinstance(tz_name, str) or not tz_name:
            raise ValueError(tz_name)
        tz = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise MappingError(
            _("time_zone: %(value)s is not a known time zone (for example Asia/Tokyo).")
            % {"value": _quote(tz_name)}
        ) from None

    placeholders = _str_list(raw.get("placeholders", []), "placeholders")
    template = raw.get("email_template", "")
    if not isinstance(template, str) or (template and not _TEMPLATE_FIELD.search(template)):
        raise MappingError(
            _("email_template: give a text naming at least one column in braces, such as %(ex)s.")
            % {"ex": "{Prospect ID}@example.invalid"}
        )

    columns = raw.get("columns")
    if not isinstance(columns, list) or not columns:
        raise MappingError(_("columns: give a list of {column, to} objects."))
    specs: list[ColumnSpec] = []
    sources: dict[str, str] = {}
    for i, entry in enumerate(columns):
        key = f"columns[{i}]"
        if not isinstance(entry, Mapping):
            raise MappingError(_("%(key)s: give an object with column and to.") % {"key": key})
        for name in entry:
            if name not in COLUMN_KEYS:
                raise MappingError(
                    _("%(key)s: unknown key; use %(keys)s.")
                    % {"key": f"{key}.{name}", "keys": ", ".join(COLUMN_KEYS)}
                )
        column, to = entry.get("column"), entry.get("to")
        if not isinstance(column, str) or not column.strip():
            raise MappingError(_("%(key)s: give the CSV column's name.") % {"key": f"{key}.column"})
        if not isinstance(to, str) or not _target_ok(to):
            raise MappingError(
                _(
                    "%(key)s: unknown field %(value)s; use a lead field (%(fields)s), "
                    "custom.<name> or a history field (%(history)s)."
                )
                % {
                    "key": f"{key}.to",
                    "value": _quote(to),
                    "fields": ", ".join(sorted(lead_fields())),
                    "history": ", ".join([*HISTORY_FIELDS, REASON_FIELD]),
                }
            )
        if to in sources:
            raise MappingError(
                _("%(key)s: %(to)s is already filled from the column %(column)s.")
                % {"key": f"{key}.to", "to": to, "column": _quote(sources[to])}
            )
        sources[to] = column
        kind = entry.get("type", "text")
        if kind not in TYPES or (kind != "text" and (to in HISTORY_FIELDS or to == REASON_FIELD)):
            raise MappingError(
                _("%(key)s: use one of %(types)s (history fields take no type).")
                % {"key": f"{key}.type", "types": ", ".join(TYPES)}
            )
        specs.append(
            ColumnSpec(
                column=column.strip(),
                to=to,
                type=kind,
                placeholders=_str_list(entry.get("placeholders", []), f"{key}.placeholders"),
            )
        )
    if "email" not in sources and not template:
        raise MappingError(_("columns: map a column to email, or give an email_template."))
    if REASON_FIELD in sources and "rejected_at" not in sources:
        raise MappingError(_("columns: rejection_reason needs a column mapped to rejected_at."))
    return ImportMapping(
        columns=tuple(specs), time_zone=tz, placeholders=placeholders, email_template=template
    )


def _target_ok(to: str) -> bool:
    if to.startswith("custom."):
        return 0 < len(to) - len("custom.") <= 100
    return to in lead_fields() or to in HISTORY_FIELDS or to == REASON_FIELD


def mapping_check_header(mapping: ImportMapping, header: list[str]) -> dict[str, int]:
    """Every column the mapping uses is in the header, once. Returns name -> index."""
    positions: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(header):
        positions[name.strip()].append(index)
    for i, spec in enumerate(mapping.columns):
        if spec.column not in positions:
            raise MappingError(
                _("%(key)s: the file has no column %(column)s (its columns: %(header)s).")
                % {
                    "key": f"columns[{i}].column",
                    "column": _quote(spec.column),
                    "header": ", ".join(_quote(n) for n in header[:60]),
                }
            )
    for name in mapping.template_columns:
        if name not in positions:
            raise MappingError(
                _("email_template: the file has no column %(column)s.") % {"column": _quote(name)}
            )
    for name in mapping.used_columns:
        if len(positions[name]) > 1:
            raise ImportFailed(
                _("Line 1: the column %(column)s appears more than once.")
                % {"column": _quote(name)}
            )
    return {name: positions[name][0] for name in mapping.used_columns}


def shipped_mappings() -> list[str]:
    """Names of the mappings shipped in leads/mappings/."""
    return sorted(path.stem for path in MAPPINGS_DIR.glob("*.json"))


def shipped_mapping_load(name: str) -> dict[str, Any]:
    if name not in shipped_mappings():
        raise MappingError(_("mapping: there is no shipped mapping %(name)s.") % {"name": name})
    return json.loads((MAPPINGS_DIR / f"{name}.json").read_text(encoding="utf-8"))


# Reading -----------------------------------------------------------------------------------


def _lines(binary: IO[bytes]) -> Iterator[str]:
    """Decoded lines, one at a time. UTF-8 never uses the newline byte inside a character,
    so decoding line by line is exact and names the line of a bad byte."""
    number = 0
    while True:
        raw = binary.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise ImportFailed(
                _("Line %(line)d is longer than %(max)d bytes: this does not look like a CSV file.")
                % {"line": number, "max": MAX_LINE_BYTES}
            )
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                _(
                    "Line %(line)d is not UTF-8 text (byte %(byte)d). Save the file as "
                    "CSV UTF-8 and upload it again."
                )
                % {"line": number, "byte": exc.start + 1}
            ) from None


def _records(binary: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells); blank lines are skipped."""
    reader = csv.reader(_lines(binary))
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFailed(
                _("Line %(line)d is not valid CSV: %(error)s.")
                % {"line": reader.line_num, "error": exc}
            ) from None
        if row:
            yield start, row
        start = reader.line_num + 1


def _header(records: Iterator[tuple[int, list[str]]]) -> list[str]:
    first = next(records, None)
    if first is None:
        raise ImportFailed(_("The file is empty: it needs a header line naming the columns."))
    return first[1]


def csv_check(binary: IO[bytes], mapping: ImportMapping) -> tuple[list[str], int]:
    """Pass 1: the mapping fits the header, the file is UTF-8 and every row has the header's
    width. Returns (header, number of rows). Raises ImportFailed naming the line."""
    records = _records(binary)
    header = _header(records)
    mapping_check_header(mapping, header)
    width, count = len(header), 0
    for line, row in records:
        if len(row) != width:
            raise ImportFailed(
                _("Line %(line)d has %(n)d columns; the header has %(width)d.")
                % {"line": line, "n": len(row), "width": width}
            )
        count += 1
    return header, count


def upload_check(file: UploadedFile, mapping: ImportMapping, *, full: bool) -> None:
    """Check an upload before it is queued: the header always, every row when `full`."""
    file.seek(0)
    try:
        if full:
            csv_check(file, mapping)
        else:
            mapping_check_header(mapping, _header(_records(file)))
    finally:
        file.seek(0)


# Rows --------------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    key: str
    data: dict[str, Any]
    # (mapping field, stage, at, reason) in lifecycle order.
    events: list[tuple[str, str, dt.datetime, str]]


def _convert(raw: str, kind: str) -> Any:
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            number = float(raw)  # "5.0" is a whole number written by a spreadsheet
            if not number.is_integer():
                raise
            return int(number)
    if kind == "float":
        number = float(raw)
        if not math.isfinite(number):
            raise ValueError(raw)
        return number
    if kind == "bool":
        word = raw.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(raw)
    return raw


def _type_error(kind: str, raw: str) -> str:
    messages = {
        "int": _("%(value)s is not a whole number."),
        "float": _("%(value)s is not a number."),
        "bool": _("%(value)s is not yes or no."),
    }
    return messages[kind] % {"value": _quote(raw)}


@cache
def _reason_codes() -> dict[str, str]:
    with translation.override("en"):
        codes = {str(label).lower(): value for value, label in RejectionReason.choices}
    codes.update({value: value for value in RejectionReason.values})
    return codes


class _RowReader:
    def __init__(self, mapping: ImportMapping, header: list[str]) -> None:
        self.mapping = mapping
        # One serializer for every row, as DRF's ListSerializer reuses its child: building
        # a serializer deep-copies its fields, which would cost more than validating.
        self.lead_input = LeadInput()
        index = mapping_check_header(mapping, header)
        self.columns = [
            (index[spec.column], spec, mapping.placeholders | spec.placeholders)
            for spec in mapping.columns
        ]
        self.template = [
            (match.group(0), index[match.group(1)])
            for match in _TEMPLATE_FIELD.finditer(mapping.email_template)
        ]

    def _cell(self, row: list[str], index: int, placeholders: frozenset[str]) -> str:
        value = row[index].strip()
        return "" if value in placeholders else value

    def parse(self, line: int, row: list[str]) -> _Row | str:
        """A validated row, or the reason it is rejected ("field: reason; ...")."""
        errors: dict[str, list[str]] = {}
        data: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        history: dict[str, str] = {}
        for index, spec, placeholders in self.columns:
            raw = self._cell(row, index, placeholders)
            if not raw:
                continue
            if spec.to in HISTORY_FIELDS or spec.to == REASON_FIELD:
                history[spec.to] = raw
                continue
            try:
                value = _convert(raw, spec.type)
            except ValueError:
                errors[spec.to] = [_type_error(spec.type, raw)]
                continue
            if spec.to.startswith("custom."):
                custom[spec.to.removeprefix("custom.")] = value
            else:
                data[spec.to] = value
        if not data.get("email") and self.template:
            parts = [
                (token, self._cell(row, i, self.mapping.placeholders)) for token, i in self.template
            ]
            if all(value for _token, value in parts):
                email = self.mapping.email_template
                for token, value in parts:
                    email = email.replace(token, value)
                data["email"] = email
        if custom:
            data["custom"] = custom
        validated: dict[str, Any] = {}
        try:
            validated = dict(self.lead_input.run_validation(data))
        except serializers.ValidationError as exc:
            for name, reasons in flatten_errors(exc.detail).items():
                errors.setdefault(name, []).extend(reasons)
        events = self._history(history, errors)
        if errors:
            return "; ".join(f"{name}: {' '.join(reasons)}" for name, reasons in errors.items())
        return _Row(line=line, key=validated["email"].lower(), data=validated, events=events)

    def _history(
        self, history: dict[str, str], errors: dict[str, list[str]]
    ) -> list[tuple[str, str, dt.datetime, str]]:
        reason = ""
        if REASON_FIELD in history:
            reason = _reason_codes().get(history[REASON_FIELD].lower(), "")
            if not reason:
                errors[REASON_FIELD] = [
                    _("%(value)s is not one of %(codes)s.")
                    % {
                        "value": _quote(history[REASON_FIELD]),
                        "codes": ", ".join(RejectionReason.values),
                    }
                ]
            elif "rejected_at" not in history:
                errors[REASON_FIELD] = [_("A rejection reason needs a rejected_at time.")]
        if "rejected_at" in history and REASON_FIELD not in history:
            errors["rejected_at"] = [_("A rejection needs a rejection_reason.")]
        now = timezone.now()
        events = []
        for name, (stage, step) in HISTORY_FIELDS.items():
            if name not in history:
                continue
            try:
                at = dt.datetime.fromisoformat(history[name])
            except ValueError:
                errors[name] = [
                    _("%(value)s is not an ISO 8601 time such as 2024-04-01T09:30:00+09:00.")
                    % {"value": _quote(history[name])}
                ]
                continue
            if timezone.is_naive(at):
                at = at.replace(tzinfo=self.mapping.time_zone)
            # A future stage change would stop every real change until then (the lifecycle
            # refuses changes dated before the previous one).
            if at > now:
                errors[name] = [_("%(value)s is in the future.") % {"value": _quote(history[name])}]
                continue
            events.append((step, at, name, stage))
        return [
            (name, stage, at, reason if stage == Stage.REJECTED else "")
            for _step, at, name, stage in sorted(events)
        ]


# Writing -----------------------------------------------------------------------------------


def _plan_history(
    lead: Lead, events: list[tuple[str, str, dt.datetime, str]], present: set
) -> tuple[list[tuple[str, str, dt.datetime, str]], str]:
    """The events still to record, checked with the rules lead_transition applies."""
    if not events:
        return [], ""
    probe = Lead(stage=lead.stage, stage_changed_at=lead.stage_changed_at)
    plan = []
    for name, stage, at, reason in events:
        if (stage, at) in present:
            continue
        if not probe.can_transition_to(stage):
            message = _("A lead cannot go from %(from)s to %(to)s.") % {
                "from": probe.get_stage_display(),
                "to": Stage(stage).label,
            }
            return [], f"{name}: {message}"
        if probe.stage_changed_at and at < probe.stage_changed_at:
            message = _(
                "The change cannot be dated before the lead's previous stage change (%(at)s)."
            ) % {"at": probe.stage_changed_at.isoformat()}
            return [], f"{name}: {message}"
        plan.append((name, stage, at, reason))
        probe.stage, probe.stage_changed_at = stage, at
    return plan, ""


def _apply(lead: Lead, data: Mapping[str, Any], now: dt.datetime) -> None:
    """The same rules as lead_upsert: blanks never overwrite, custom attributes merge."""
    for attr in LEAD_ATTRIBUTES:
        value = data.get(attr)
        if value not in (None, ""):
            setattr(lead, attr, value)
    if data.get("custom"):
        lead.custom = {**(lead.custom or {}), **data["custom"]}
    if data.get("owner") is not None:
        lead.owner = data["owner"]
    company = _company_for(data)
    if company is not None:
        lead.company = company
    lead.updated_at = now


def _update_rows(leads: list[Lead], fields: list[str]) -> None:
    """Write `fields` of each lead with one prepared UPDATE run for every row.

    bulk_update builds a CASE expression per field in Python, which cost more than the rest
    of the import together.
    """
    if not leads:
        return
    connection = connections[Lead.objects.db]
    quote = connection.ops.quote_name
    model_fields = [Lead._meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in model_fields)
    sql = (
        f"UPDATE {quote(Lead._meta.db_table)} SET {assignments} "
        f"WHERE {quote(Lead._meta.pk.column)} = %s"
    )
    params = [
        [f.get_db_prep_save(getattr(lead, f.attname), connection) for f in model_fields] + [lead.pk]
        for lead in leads
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


@dataclass
class _ChunkResult:
    created: int = 0
    updated: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)


def _write_chunk(
    rows: list[_Row], update_fields: list[str], context: Mapping[str, Any]
) -> _ChunkResult:
    result = _ChunkResult()
    now = timezone.now()
    with transaction.atomic():
        # One query for the chunk's known leads, locked so the history check below holds.
        leads: dict[str, Lead] = {
            lead.email_lower: lead
            for lead in Lead.objects.select_for_update()
            .annotate(email_lower=Lower("email"))
            .filter(email_lower__in={row.key for row in rows})
            .order_by("pk")
        }
        present: dict[int, set] = defaultdict(set)
        with_history = [leads[r.key].pk for r in rows if r.events and r.key in leads]
        if with_history:
            for lead_id, stage, at in StageEvent.objects.filter(
                lead_id__in=with_history
            ).values_list("lead_id", "to_stage", "at"):
                present[lead_id].add((stage, at))
        touched: dict[str, Lead] = {}
        for row in rows:
            lead = leads.get(row.key)
            created = lead is None
            if created:
                lead = Lead(email=row.data["email"])
            plan, reason = _plan_history(lead, row.events, present[lead.pk] if lead.pk else set())
            if reason:
                result.rejections.append((row.line, reason))
                continue
            _apply(lead, row.data, now)
            leads[row.key] = touched[row.key] = lead
            if plan:
                if lead.pk is None:
                    lead.save()
                for _name, stage, at, why in plan:
                    lead_transition(
                        lead=lead,
                        to_stage=stage,
                        at=at,
                        reason=why,
                        origin=StageEvent.Origin.IMPORT,
                        context={**context, "line": row.line},
                    )
                    present[lead.pk].add((stage, at))
            if created:
                result.created += 1
            else:
                result.updated += 1
        new = [lead for lead in touched.values() if lead.pk is None]
        known = [lead for lead in touched.values() if lead.pk is not None]
        Lead.objects.bulk_create(new)
        _update_rows(known, update_fields)
        notify_lead_changed([lead.pk for lead in touched.values()])
    return result


@dataclass
class ImportReport:
    total_rows: int = 0
    processed_rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    # The first MAX_ERRORS rejections: {"line": 7, "reason": "email: Enter a valid ..."}.
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": line, "reason": reason})


def import_csv(
    *,
    open_file: Callable[[], AbstractContextManager[IO[bytes]]],
    mapping: ImportMapping,
    progress: Callable[[ImportReport], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    context: Mapping[str, Any] | None = None,
) -> ImportReport:
    """Import a CSV file; `open_file` opens it in binary mode (it is read twice).

    Raises ImportFailed (nothing written) when the file or mapping is unusable. `progress`
    is called after pass 1 and after every chunk.
    """
    with open_file() as binary:
        header, total = csv_check(binary, mapping)
    report = ImportReport(total_rows=total)
    if progress:
        progress(report)
    reader = _RowReader(mapping, header)
    update_fields = mapping.lead_update_fields()
    context = dict(context or {})
    with open_file() as binary:
        records = _records(binary)
        next(records)  # the header
        while chunk := list(islice(records, chunk_size)):
            rows: list[_Row] = []
            rejections: list[tuple[int, str]] = []
            for line, cells in chunk:
                if len(cells) != len(header):  # the file changed since pass 1
                    raise ImportFailed(
                        _("Line %(line)d has %(n)d columns; the header has %(width)d.")
                        % {"line": line, "n": len(cells), "width": len(header)}
                    )
                parsed = reader.parse(line, cells)
                if isinstance(parsed, str):
                    rejections.append((line, parsed))
                else:
                    rows.append(parsed)
            if rows:
                try:
                    result = _write_chunk(rows, update_fields, context)
                except IntegrityError:
                    # Someone else created one of these e-mails meanwhile; the chunk rolled
                    # back whole, and a second pass finds their rows and updates them.
                    result = _write_chunk(rows, update_fields, context)
                report.created += result.created
                report.updated += result.updated
                rejections += result.rejections
            for line, reason in sorted(rejections):
                report.reject(line, reason)
            report.processed_rows += len(chunk)
            if progress:
                progress(report)
    return report


# Jobs --------------------------------------------------------------------------------------


@transaction.atomic
def import_job_create(*, file: UploadedFile, mapping: Mapping[str, Any], user: Any) -> ImportJob:
    """Store the upload and queue its import once the job row is committed."""
    from .tasks import import_job_run_task

    job = ImportJob(original_name=Path(file.name or "").name[:255], mapping=dict(mapping))
    job.created_by = user if user is not None and user.is_authenticated else None
    job.file.save(job.original_name or "import.csv", file, save=False)
    job.save()
    transaction.on_commit(lambda: import_job_run_task.delay(job.pk))
    return job


def _job_progress(job_id: int) -> Callable[[ImportReport], None]:
    def save(report: ImportReport) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            total_rows=report.total_rows,
            processed_rows=report.processed_rows,
            created_count=report.created,
            updated_count=report.updated,
            rejected_count=report.rejected,
            errors=report.errors,
            heartbeat_at=timezone.now(),
        )

    return save


# A job that showed no progress for this long lost its worker; imports are idempotent
# (rows upsert by e-mail, history events are skipped when present), so it starts again.
IMPORT_STALE_AFTER = dt.timedelta(minutes=5)


def _claimable(job_id: int) -> Any:
    stale = timezone.now() - IMPORT_STALE_AFTER
    return ImportJob.objects.filter(pk=job_id).filter(
        Q(status=ImportJob.Status.QUEUED)
        | Q(status=ImportJob.Status.RUNNING, heartbeat_at__lt=stale)
    )


def import_jobs_resume() -> list[int]:
    """Queue again the jobs whose worker died (beat, every few minutes)."""
    from .tasks import import_job_run_task

    stale = timezone.now() - IMPORT_STALE_AFTER
    ids = list(
        ImportJob.objects.filter(
            status=ImportJob.Status.RUNNING, heartbeat_at__lt=stale
        ).values_list("pk", flat=True)
    )
    for job_id in ids:
        import_job_run_task.delay(job_id)
    return ids


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued import. Claimed with a conditional update, so a second run (a redelivered
    task, a double click) finds it taken and does nothing; a job whose worker died (no
    heartbeat for IMPORT_STALE_AFTER) is claimed again and re-imported from the start."""
    now = timezone.now()
    claimed = _claimable(job_id).update(
        status=ImportJob.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if claimed != 1:
        return None
    job = ImportJob.objects.get(pk=job_id)
    try:
        import_csv(
            open_file=lambda: job.file.storage.open(job.file.name, "rb"),
            mapping=mapping_load(job.mapping),
            progress=_job_progress(job.pk),
            context={"import_job": job.pk},
        )
    except ImportFailed as exc:
        _job_finish(job, ImportJob.Status.FAILED, exc.message)
    except Exception:
        _job_finish(
            job,
            ImportJob.Status.FAILED,
            _("The import stopped on an unexpected error; the rows counted above were imported."),
        )
        raise
    else:
        _job_finish(job, ImportJob.Status.DONE, "")
    job.refresh_from_db()
    return job


def _job_finish(job: ImportJob, status: str, failure: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, failure=failure, finished_at=timezone.now()
    )
