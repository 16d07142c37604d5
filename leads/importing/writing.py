"""Writing parsed rows: leads upserted and history replayed, a chunk per transaction."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any, cast

from django.db import IntegrityError, connections, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from core.db import analyze

from ..models import Company, Lead, StageEvent
from ..services import (
    lead_apply,
    lead_transition,
    notify_lead_changed,
    transition_problem,
)
from .mapping import ImportFailed, ImportMapping
from .reading import Rejection, _records, _Row, _RowReader, csv_check

CHUNK_SIZE = 500
MAX_ERRORS = 1000


# Writing -----------------------------------------------------------------------------------


def _plan_history(
    lead: Lead, events: list[tuple[str, str, dt.datetime, str]], present: set
) -> tuple[list[tuple[str, str, dt.datetime, str]], dict[str, list[str]]]:
    """The events still to record, checked with the rules lead_transition applies to
    history; a step they refuse is left out and returned ({mapping field: reasons}), the
    others are kept."""
    probe = Lead(stage=lead.stage, stage_changed_at=lead.stage_changed_at)
    plan = []
    left_out: dict[str, list[str]] = {}
    for name, stage, at, reason in events:
        if (stage, at) in present:
            continue
        problem = transition_problem(lead=probe, to_stage=stage, at=at, history=True)
        if problem is not None:
            left_out[name] = list(problem.messages)
            continue
        plan.append((name, stage, at, reason))
        probe.stage, probe.stage_changed_at = stage, at
    return plan, left_out


def _update_rows(leads: list[Lead], fields: list[str]) -> None:
    """Write `fields` of each lead with one prepared UPDATE run for every row.

    bulk_update builds a CASE expression per field in Python, which cost more than the rest
    of the import together.
    """
    if not leads:
        return
    connection = connections[Lead.objects.db]
    quote = connection.ops.quote_name
    # `fields` name the lead's own columns, never a reverse relation.
    model_fields = [cast(models.Field, Lead._meta.get_field(name)) for name in fields]
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
    rejections: list[Rejection] = field(default_factory=list)


def _write_chunk(
    rows: list[_Row], update_fields: list[str], context: Mapping[str, Any], reader: _RowReader
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
            if lead is None:
                lead = Lead(email=row.data["email"])
                if row.created_at is not None:
                    # The funnel counts a lead in the month it came, not the import's.
                    lead.created_at = row.created_at
            plan, left_out = _plan_history(lead, row.events, present[lead.pk] if lead.pk else set())
            if row.step_errors or left_out:
                result.rejections.append(
                    reader.rejection(
                        row.line, row.cells, {**row.step_errors, **left_out}, row_imported=True
                    )
                )
            lead_apply(lead=lead, data=row.data, now=now)
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
                        history=True,
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
    # Rows that imported nothing (a lead field is wrong).
    rejected: int = 0
    # Rows imported without some of their history steps (a date that is not one, an SQL
    # dated before its MQL, a rejection without its reason).
    history_problems: int = 0
    # The first MAX_ERRORS problem rows: {"line": 7, "column": "E-mail", "reason": "email:
    # Enter a valid ...", "row_imported": false}; every one goes to import_csv's `rejections`.
    errors: list[dict[str, Any]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    def reject(self, rejection: Rejection) -> None:
        if rejection.row_imported:
            self.history_problems += 1
        else:
            self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(
                {
                    "line": rejection.line,
                    "column": ", ".join(c for c in rejection.columns if c),
                    "reason": rejection.reason,
                    "row_imported": rejection.row_imported,
                }
            )


# An import that wrote at least this many leads refreshes the planner's statistics.
ANALYZE_AFTER_ROWS = 1000


def import_csv(
    *,
    open_file: Callable[[], AbstractContextManager[IO[bytes]]],
    mapping: ImportMapping,
    progress: Callable[[ImportReport], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    context: Mapping[str, Any] | None = None,
    rejections: Callable[[list[Rejection]], None] | None = None,
    encoding: str = "utf-8",
) -> ImportReport:
    """Import a CSV file; `open_file` opens it in binary mode (it is read twice).

    Raises ImportFailed (nothing written) when the file or mapping is unusable. `progress`
    is called after pass 1 and after every chunk; `rejections` with each chunk's rejected
    rows and rows imported without some history steps (`row_imported`), in line order,
    before `progress`, so a store of them is never behind the counts.
    """
    with open_file() as binary:
        header, total = csv_check(binary, mapping, encoding)
    report = ImportReport(total_rows=total, header=list(header))
    if progress:
        progress(report)
    reader = _RowReader(mapping, header)
    update_fields = mapping.lead_update_fields()
    context = dict(context or {})
    with open_file() as binary:
        records = _records(binary, encoding)
        next(records)  # the header
        while chunk := list(islice(records, chunk_size)):
            rows: list[_Row] = []
            rejected: list[Rejection] = []
            for line, cells in chunk:
                if len(cells) != len(header):  # the file changed since pass 1
                    raise ImportFailed(
                        _("Line %(line)d has %(n)d columns; the header has %(width)d.")
                        % {"line": line, "n": len(cells), "width": len(header)}
                    )
                parsed = reader.parse(line, cells)
                if isinstance(parsed, Rejection):
                    rejected.append(parsed)
                else:
                    rows.append(parsed)
            if rows:
                try:
                    result = _write_chunk(rows, update_fields, context, reader)
                except IntegrityError:
                    # Someone else created one of these e-mails meanwhile; the chunk rolled
                    # back whole, and a second pass finds their rows and updates them.
                    result = _write_chunk(rows, update_fields, context, reader)
                report.created += result.created
                report.updated += result.updated
                rejected += result.rejections
            rejected.sort(key=lambda r: r.line)
            for rejection in rejected:
                report.reject(rejection)
            if rejections and rejected:
                rejections(rejected)
            report.processed_rows += len(chunk)
            if progress:
                progress(report)
    if report.created + report.updated >= ANALYZE_AFTER_ROWS:
        # A large load: refresh the planner's statistics now rather than when autovacuum
        # notices, so the rescore that follows is planned for the real table sizes.
        analyze(Lead, Company, StageEvent)
    return report
