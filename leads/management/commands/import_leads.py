"""python manage.py import_leads FILE --mapping MAPPING.json"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from leads.importing import (
    ImportFailed,
    ImportReport,
    MappingError,
    import_csv,
    mapping_load,
    shipped_mapping_load,
    shipped_mappings,
)

REPORT_ERRORS = 20


class Command(BaseCommand):
    help = "Import leads (and their stage history) from a CSV file with a column mapping."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The CSV file (UTF-8, first line names the columns).")
        parser.add_argument(
            "--mapping",
            required=True,
            help="A mapping JSON file, or the name of a shipped mapping: "
            + ", ".join(shipped_mappings()),
        )
        parser.add_argument("--chunk-size", type=int, default=500, help="Rows per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("%(path)s: no such file.") % {"path": path})
        try:
            mapping = mapping_load(self._mapping_source(options["mapping"]))
            report = import_csv(
                open_file=lambda: path.open("rb"),
                mapping=mapping,
                progress=self._progress,
                chunk_size=max(1, options["chunk_size"]),
                context={"import_file": path.name},
            )
        except ImportFailed as exc:
            raise CommandError(f"{path}: {exc.message}") from None
        self._report(report)

    def _mapping_source(self, value: str) -> Any:
        mapping_path = Path(value)
        if mapping_path.is_file():
            return mapping_path.read_bytes()
        if value in shipped_mappings():
            return shipped_mapping_load(value)
        raise MappingError(
            _("mapping: %(value)s is neither a file nor a shipped mapping (%(names)s).")
            % {"value": json.dumps(value), "names": ", ".join(shipped_mappings())}
        )

    def _progress(self, report: ImportReport) -> None:
        self.stderr.write(
            _("%(done)d / %(total)d rows")
            % {"done": report.processed_rows, "total": report.total_rows}
        )

    def _report(self, report: ImportReport) -> None:
        self.stdout.write(
            _(
                "Rows: %(total)d. Created: %(created)d, updated: %(updated)d, "
                "rejected: %(rejected)d."
            )
            % {
                "total": report.total_rows,
                "created": report.created,
                "updated": report.updated,
                "rejected": report.rejected,
            }
        )
        for error in report.errors[:REPORT_ERRORS]:
            self.stdout.write(
                _("Line %(line)d: %(reason)s") % {"line": error["line"], "reason": error["reason"]}
            )
        if report.rejected > REPORT_ERRORS:
            self.stdout.write(_("… and %(n)d more.") % {"n": report.rejected - REPORT_ERRORS})
