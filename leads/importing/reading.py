"""Reading a CSV file: decoded line by line, checked, and parsed into validated rows."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from typing import IO, Any

from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from rest_framework import serializers

from core.validation import email_key, flatten_errors

from ..models import RejectionReason, Stage
from ..validation import LeadInput
from .encoding import ENCODINGS
from .mapping import (
    _TEMPLATE_FIELD,
    CREATED_FIELD,
    HISTORY_FIELDS,
    REASON_FIELD,
    ImportFailed,
    ImportMapping,
    _quote,
    mapping_check_header,
)

# A line longer than this is not a lead; reading it whole could exhaust memory.
MAX_LINE_BYTES = 1024 * 1024
# Japanese sheets answer はい/いいえ, あり/なし, 有/無 or ○/×.
TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "on", "はい", "あり", "有", "○"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "off", "いいえ", "なし", "無", "×"})


# Reading -----------------------------------------------------------------------------------


def _lines(binary: IO[bytes], encoding: str = "utf-8") -> Iterator[str]:
    """Decoded lines, one at a time. UTF-8 (and every encoding of encoding.ENCODINGS) never
    uses the newline byte inside a character, so decoding line by line is exact and names the
    line of a bad byte. A UTF-8 byte-order mark is dropped whichever UTF-8 is named."""
    codec = "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding
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
            yield raw.decode(codec)
        except UnicodeDecodeError as exc:
            if codec == "utf-8":
                raise ImportFailed(
                    _(
                        "Line %(line)d is not UTF-8 text (byte %(byte)d). Save the file as "
                        "CSV UTF-8 and upload it again."
                    )
                    % {"line": number, "byte": exc.start + 1}
                ) from None
            raise ImportFailed(
                _(
                    "Line %(line)d is not %(encoding)s text (byte %(byte)d). Choose the "
                    "file's encoding, or save it as CSV UTF-8 and upload it again."
                )
                % {"line": number, "byte": exc.start + 1, "encoding": ENCODINGS[encoding]}
            ) from None


def _records(binary: IO[bytes], encoding: str = "utf-8") -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells); blank lines are skipped."""
    reader = csv.reader(_lines(binary, encoding))
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


def csv_check(
    binary: IO[bytes], mapping: ImportMapping, encoding: str = "utf-8"
) -> tuple[list[str], int]:
    """Pass 1: the mapping fits the header, the file decodes and every row has the header's
    width. Returns (header, number of rows). Raises ImportFailed naming the line."""
    records = _records(binary, encoding)
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


def upload_check(
    file: UploadedFile | IO[bytes], mapping: ImportMapping, *, full: bool, encoding: str = "utf-8"
) -> None:
    """Check an upload before it is queued: the header always, every row when `full`."""
    file.seek(0)
    try:
        if full:
            csv_check(file, mapping, encoding)
        else:
            mapping_check_header(mapping, _header(_records(file, encoding)))
    finally:
        file.seek(0)


def csv_preview(
    binary: IO[bytes], encoding: str, rows: int = 5
) -> tuple[list[str], list[list[str]]]:
    """The header and the first `rows` rows, for the import wizard. Raises ImportFailed
    naming the line that does not decode or parse."""
    binary.seek(0)
    try:
        records = _records(binary, encoding)
        header = _header(records)
        return header, [row for _line, row in islice(records, rows)]
    finally:
        binary.seek(0)


# Rows --------------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    key: str
    data: dict[str, Any]
    # (mapping field, stage, at, reason) in lifecycle order.
    events: list[tuple[str, str, dt.datetime, str]]
    # The row as the file has it, for the rejected-rows download.
    cells: list[str]
    # History steps that cannot be read (a bad date, a rejection without its reason): left
    # out, while the lead and its other steps are imported. {mapping field: reasons}.
    step_errors: dict[str, list[str]] = field(default_factory=dict)
    # When a new lead was created: the created_at cell, else its first stage date.
    created_at: dt.datetime | None = None


@dataclass
class Rejection:
    """A row that imported nothing: where, which columns, why, and the row as it was; or,
    with `row_imported`, a row whose lead was imported without the history steps named."""

    line: int
    # The mapping's targets ("email", "custom.visits", "mql_at") and their reasons.
    errors: dict[str, list[str]]
    cells: list[str]
    # The file's column names for the targets ("" where no single column is to blame).
    columns: list[str]
    row_imported: bool = False

    @property
    def reason(self) -> str:
        return "; ".join(f"{name}: {' '.join(reasons)}" for name, reasons in self.errors.items())


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
        self.column_of = {spec.to: spec.column for spec in mapping.columns}
        if "email" not in self.column_of and self.template:
            self.column_of["email"] = ", ".join(
                dict.fromkeys(m.group(1) for m in _TEMPLATE_FIELD.finditer(mapping.email_template))
            )

    def rejection(
        self,
        line: int,
        cells: list[str],
        errors: dict[str, list[str]],
        *,
        row_imported: bool = False,
    ) -> Rejection:
        columns = [self.column_of.get(name, "") for name in errors]
        return Rejection(
            line=line,
            errors=errors,
            cells=list(cells),
            columns=columns,
            row_imported=row_imported,
        )

    def _cell(self, row: list[str], index: int, placeholders: frozenset[str]) -> str:
        value = row[index].strip()
        return "" if value in placeholders else value

    def parse(self, line: int, row: list[str]) -> _Row | Rejection:
        """A validated row (with the history steps it leaves out), or why it is rejected: a
        wrong lead field rejects the row, a wrong history step only the step."""
        errors: dict[str, list[str]] = {}
        data: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        history: dict[str, str] = {}
        for index, spec, placeholders in self.columns:
            raw = self._cell(row, index, placeholders)
            if not raw:
                continue
            if spec.to in HISTORY_FIELDS or spec.to in (REASON_FIELD, CREATED_FIELD):
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
        if errors:
            return self.rejection(line, row, errors)
        step_errors: dict[str, list[str]] = {}
        events = self._history(history, step_errors)
        created_at = self._time(history, CREATED_FIELD, step_errors)
        if created_at is None and events:
            created_at = min(at for _name, _stage, at, _reason in events)
        return _Row(
            created_at=created_at,
            line=line,
            key=email_key(validated["email"]),
            data=validated,
            events=events,
            cells=row,
            step_errors=step_errors,
        )

    def _time(
        self, cells: dict[str, str], name: str, errors: dict[str, list[str]]
    ) -> dt.datetime | None:
        """A time cell (naive: in the mapping's zone), or None with the reason in `errors`."""
        if name not in cells:
            return None
        try:
            at = dt.datetime.fromisoformat(cells[name])
        except ValueError:
            errors[name] = [
                _("%(value)s is not an ISO 8601 time such as 2024-04-01T09:30:00+09:00.")
                % {"value": _quote(cells[name])}
            ]
            return None
        if timezone.is_naive(at):
            at = at.replace(tzinfo=self.mapping.time_zone)
        if at > timezone.now():
            errors[name] = [_("%(value)s is in the future.") % {"value": _quote(cells[name])}]
            return None
        return at

    def _history(
        self, history: dict[str, str], errors: dict[str, list[str]]
    ) -> list[tuple[str, str, dt.datetime, str]]:
        """The row's history events; a step that cannot be read is left out, its reason in
        `errors` under its field."""
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
        if "rejected_at" in history and not reason:
            # The reason is what a rejection tells marketing: none, no rejection.
            errors["rejected_at"] = [_("A rejection needs a rejection_reason.")]
            del history["rejected_at"]
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
