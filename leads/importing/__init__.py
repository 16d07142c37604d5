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
  or its English label), and ``created_at``: when the lead was created in the other tool
  (a new lead without it is created at its first stage date, so the funnel counts it in
  its own month; a known lead keeps its date). ``type`` is ``text`` (default), ``int``,
  ``float`` or ``bool`` (yes/no, true/false, y/n, 1/0, on/off in any case); history fields
  take no type.
- ``placeholders``: cell values that mean "empty" in every column (each column may add its
  own). Blank cells are empty too. An empty cell never overwrites a known value and never
  sets a custom attribute.
- ``email_template``: builds the e-mail from other columns, ``{Column name}`` standing for a
  cell, when no column maps to ``email`` or the row's e-mail is empty. For files without
  e-mails that carry a stable id, so that a re-import finds the same leads.
- ``time_zone``: the zone of timestamps written without an offset (default UTC).

History becomes StageEvents (origin "import") in lifecycle order: lead→MQL at mql_at,
then MQL→SAL at sal_at or MQL→rejected at rejected_at, then SAL→SQL, →recycled or
→disqualified. Each step is checked with the lifecycle for history (``lead_transition(...,
history=True)``): what happened may have skipped a step nobody recorded (an MQL date and a
won date only: MQL→SQL with no SAL; Lead→SQL), so forward paths through MQL and SAL are
accepted and the event is marked ``skipped``; reports count such an MQL in its cohort's
conversion and leave it out of acceptance rate and latency as "not recorded". An event the
lead already has (same stage, same time) is skipped, so a re-import adds nothing.

The package: ``mapping`` (the mapping, checked before any file is read), ``reading`` (decode,
check and parse rows), ``writing`` (upsert leads and replay history in chunks), ``jobs`` (queued
imports claimed by one worker and resumed when a worker dies).

The file is read twice and never held in memory: pass 1 checks the structure (UTF-8, every
row as wide as the header) and counts rows, and fails naming the line before anything is
written; pass 2 validates each row with LeadInput and writes ``CHUNK_SIZE`` rows per
transaction. A row with a wrong lead field is rejected whole and writes nothing; a wrong
history step (a date that is not a date, an SQL dated before its MQL, a rejection without
its reason) is left out alone, and the lead is imported with its other steps. Every
problem names its line, column and reason (``ImportReport.errors`` keeps the first
MAX_ERRORS, ``on_problem`` receives all of them; ``import_leads --errors FILE`` writes them).
"""

from .encoding import ENCODINGS, encoding_detect
from .jobs import (
    import_drafts_discard,
    import_job_create,
    import_job_queue,
    import_job_run,
    import_jobs_resume,
    import_upload,
)
from .mapping import (
    EXAMPLE_MAPPING,
    HISTORY_FIELDS,
    ImportFailed,
    ImportMapping,
    MappingError,
    lead_fields,
    mapping_check_header,
    mapping_decode,
    mapping_load,
    shipped_mapping_load,
    shipped_mappings,
)
from .reading import Rejection, csv_check, csv_preview, upload_check
from .suggest import CUSTOM, TARGETS, custom_key, suggest_targets
from .writing import CHUNK_SIZE, ImportReport, import_csv

__all__ = [
    "CUSTOM",
    "ENCODINGS",
    "TARGETS",
    "csv_preview",
    "custom_key",
    "encoding_detect",
    "import_drafts_discard",
    "import_job_queue",
    "import_upload",
    "suggest_targets",
    "CHUNK_SIZE",
    "EXAMPLE_MAPPING",
    "HISTORY_FIELDS",
    "ImportFailed",
    "ImportMapping",
    "ImportReport",
    "MappingError",
    "Rejection",
    "csv_check",
    "import_csv",
    "import_job_create",
    "import_job_run",
    "import_jobs_resume",
    "lead_fields",
    "mapping_check_header",
    "mapping_decode",
    "mapping_load",
    "shipped_mapping_load",
    "shipped_mappings",
    "upload_check",
]
