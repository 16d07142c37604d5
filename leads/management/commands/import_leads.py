"""python manage.py import_leads FILE --mapping MAPPING.json"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from leads.importing import (
    ENCODINGS,
    ImportFailed,
    ImportReport,
    MappingError,
    Rejection,
    encoding_detect,
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
        parser.add_argument(
            "--encoding",
            default="utf-8",
            choices=["auto", *ENCODINGS],
            help="The file's text encoding (default utf-8; cp932 is Shift-JIS as Excel writes "
            "it in Japan); auto detects it as the Import page does.",
        )
        parser.add_argument(
            "--errors",
            metavar="FILE",
            help="Write every problem (line, column, field, problem, outcome) to this CSV file.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("%(path)s: no such file.") % {"path": path})
        errors_path = Path(options["errors"]) if options.get("errors") else None
        if errors_path is not None and not errors_path.parent.is_dir():
            raise CommandError(
                _("--errors: the folder %(path)s does not exist.") % {"path": errors_path.parent}
            )
        with ExitStack() as stack:
            on_problem = None
            if errors_path is not None:
                on_problem = self._problem_writer(
                    stack.enter_context(errors_path.open("w", encoding="utf-8", newline=""))
                )
            encoding = options.get("encoding") or "utf-8"
            if encoding == "auto":
                with path.open("rb") as binary:
                    encoding = encoding_detect(binary)
            try:
                mapping = mapping_load(self._mapping_source(options["mapping"]))
                report = import_csv(
                    open_file=lambda: path.open("rb"),
                    mapping=mapping,
                    progress=self._progress,
                    chunk_size=max(1, options["chunk_size"]),
                    context={"import_file": path.name},
                    rejections=on_problem,
                    encoding=encoding,
                )
            except ImportFailed as exc:
                raise CommandError(f"{path}: {exc.message}") from None
        self._report(report, errors_path)

    def _problem_writer(self, file: Any) -> Callable[[list[Rejection]], None]:
        writer = csv.writer(file)
        writer.writerow(["line", "column", "field", "problem", "outcome"])
        row_rejected, step_left_out = _("row not imported"), _("lead imported without this cell")

        def write(problems: list[Rejection]) -> None:
            for problem in problems:
                outcome = step_left_out if problem.row_imported else row_rejected
                for (name, reasons), column in zip(
                    problem.errors.items(), problem.columns, strict=True
                ):
                    writer.writerow([problem.line, column, name, " ".join(reasons), outcome])

        return write

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

    def _report(self, report: ImportReport, errors_path: Path | None) -> None:
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
        if report.history_problems:
            self.stdout.write(
                _(
                    "History problems: %(n)d (those leads were imported with their other "
                    "steps; each problem's step or cell was left out)."
                )
                % {"n": report.history_problems}
            )
        for error in report.errors[:REPORT_ERRORS]:
            if error["column"]:
                line = _("Line %(line)d, column %(column)s: %(reason)s") % {
                    "line": error["line"],
                    "column": json.dumps(error["column"], ensure_ascii=False),
                    "reason": error["reason"],
                }
            else:
                line = _("Line %(line)d: %(reason)s") % {
                    "line": error["line"],
                    "reason": error["reason"],
                }
            self.stdout.write(line)
        # A row with problems is one line here; the errors file has a line per cell.
        rows = report.rejected + report.history_problems
        if rows > REPORT_ERRORS:
            self.stdout.write(_("… and %(n)d more.") % {"n": rows - REPORT_ERRORS})
        if errors_path is not None:
            self.stdout.write(_("Every problem is in %(path)s.") % {"path": errors_path})
        elif rows > REPORT_ERRORS:
            self.stdout.write(_("--errors FILE writes them all."))
