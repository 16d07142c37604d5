"""The column mapping: what each CSV column fills, checked before any file is read."""

from __future__ import annotations

import json
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from ..models import Company, Lead, Stage
from ..validation import LeadInput

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"

TYPES = ("text", "int", "float", "bool")
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
# When the lead was created in the other tool; without it, its first stage date.
CREATED_FIELD = "created_at"
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
        fields = [attr for attr in Lead.PROFILE_FIELDS if attr in targets]
        if any(t.startswith("custom.") for t in targets):
            fields.append("custom")
        if "owner_email" in targets:
            fields.append("owner")
        if targets & {"company_name", "company_domain", *Company.PROFILE_FIELDS}:
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
                    "history": ", ".join([*HISTORY_FIELDS, REASON_FIELD, CREATED_FIELD]),
                }
            )
        if to in sources:
            raise MappingError(
                _("%(key)s: %(to)s is already filled from the column %(column)s.")
                % {"key": f"{key}.to", "to": to, "column": _quote(sources[to])}
            )
        sources[to] = column
        kind = entry.get("type", "text")
        if kind not in TYPES or (
            kind != "text" and (to in HISTORY_FIELDS or to in (REASON_FIELD, CREATED_FIELD))
        ):
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
    return to in lead_fields() or to in HISTORY_FIELDS or to == REASON_FIELD or to == CREATED_FIELD


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
