from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from . import importing
from .models import Profile, SavedMapping

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _time_zone_choices() -> list[tuple[str, StrOrPromise]]:
    return [("", _("Server default"))] + [(z, z) for z in sorted(zoneinfo.available_timezones())]


class PreferencesForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=_time_zone_choices, required=False)
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("Browser default"))] + settings.LANGUAGES,
        required=False,
    )

    class Meta:
        model = Profile
        fields = ["language", "time_zone"]


def mapping_choices() -> list[tuple[str, str]]:
    """Saved mappings, then the shipped ones ("shipped:<name>")."""
    saved = [(m.name, m.name) for m in SavedMapping.objects.order_by("name")]
    shipped = [(f"shipped:{n}", f"{n} ({_('shipped')})") for n in importing.shipped_mappings()]
    return [("", str(_("None: suggest from the headers")))] + saved + shipped


def mapping_get(choice: str) -> dict[str, Any] | None:
    """A saved or shipped mapping by its choice value, or None."""
    if choice.startswith("shipped:"):
        name = choice.removeprefix("shipped:")
        if name in importing.shipped_mappings():
            return importing.shipped_mapping_load(name)
        return None
    saved = SavedMapping.objects.filter(name=choice).first()
    return dict(saved.mapping) if saved else None


class ImportUploadForm(forms.Form):
    """Step 1 of the import wizard: the file (and a saved mapping to start from)."""

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "A first line naming the columns. UTF-8, UTF-8 with BOM or Shift-JIS (Excel in "
            "Japan): the encoding is detected."
        ),
    )
    saved = forms.ChoiceField(label=_("Saved mapping"), required=False, choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["saved"]).choices = mapping_choices()

    def clean_file(self) -> UploadedFile:
        file = self.cleaned_data["file"]
        if not (file.name or "").lower().endswith((".csv", ".txt")):
            raise forms.ValidationError(_("Upload a .csv file."))
        return file


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class ImportMappingForm(forms.Form):
    """Step 2: for each column of the file, what it fills; the empty values; a name to keep
    the mapping under. Builds the mapping `importing.mapping_load` checks."""

    # Files larger than this are checked row by row by the job (the user gets the job page).
    FULL_CHECK_BYTES = 5 * 1024 * 1024

    encoding = forms.ChoiceField(label=_("Encoding"), choices=())
    placeholders = forms.CharField(
        label=_("Values that mean empty"),
        required=False,
        max_length=1000,
        help_text=_(
            "Separated by commas, such as: Select, -, N/A, 未選択. Blank cells are empty too."
        ),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone of dates"),
        choices=(),
        help_text=_("For dates and times written without an offset."),
    )
    email_template = forms.CharField(
        label=_("E-mail when there is none"),
        required=False,
        max_length=300,
        help_text=_(
            "Built from other columns, such as {ID}@example.invalid, for files without e-mails."
        ),
    )
    save_as = forms.CharField(
        label=_("Save this mapping as"),
        required=False,
        max_length=100,
        help_text=_(
            "A name to reuse it for the next file of this shape; the same name replaces it."
        ),
    )

    def __init__(
        self, *args: Any, header: list[str], samples: list[list[str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header = header
        cast(forms.ChoiceField, self.fields["encoding"]).choices = list(importing.ENCODINGS.items())
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = [
            (z, z) for z in sorted(zoneinfo.available_timezones())
        ]
        targets = [("", str(_("— skip this column —")))] + [
            (k, str(v)) for k, v in importing.TARGETS.items()
        ]
        targets.append((importing.CUSTOM, str(_("Custom attribute…"))))
        types = [
            ("text", _("Text")),
            ("int", _("Whole number")),
            ("float", _("Number")),
            ("bool", _("Yes / no")),
        ]
        self.rows: list[dict[str, Any]] = []
        for i, name in enumerate(header):
            self.fields[f"to_{i}"] = forms.ChoiceField(label=name, choices=targets, required=False)
            self.fields[f"key_{i}"] = forms.CharField(
                label=_("Attribute name"), required=False, max_length=100
            )
            self.fields[f"type_{i}"] = forms.ChoiceField(
                label=_("Type"), choices=types, required=False
            )
            self.fields[f"empty_{i}"] = forms.CharField(
                label=_("Also empty"), required=False, max_length=500
            )
            self.rows.append(
                {
                    "index": i,
                    "name": name,
                    "samples": [row[i] for row in samples if i < len(row) and row[i].strip()][:3],
                }
            )

    def bound_rows(self) -> list[dict[str, Any]]:
        return [
            {
                **row,
                "to": self[f"to_{row['index']}"],
                "key": self[f"key_{row['index']}"],
                "type": self[f"type_{row['index']}"],
                "empty": self[f"empty_{row['index']}"],
            }
            for row in self.rows
        ]

    @staticmethod
    def initial_for(
        header: list[str], mapping: Mapping[str, Any] | None, time_zone: str
    ) -> dict[str, Any]:
        """The form's first values: a saved mapping's where it names a column, else the
        suggestion from the header."""
        initial: dict[str, Any] = {"time_zone": time_zone}
        by_column: dict[str, Mapping[str, Any]] = {}
        if mapping:
            initial["placeholders"] = ", ".join(mapping.get("placeholders") or [])
            initial["time_zone"] = mapping.get("time_zone") or time_zone
            initial["email_template"] = mapping.get("email_template") or ""
            for entry in mapping.get("columns") or []:
                if isinstance(entry, Mapping) and isinstance(entry.get("column"), str):
                    by_column[entry["column"].strip()] = entry
        suggested = importing.suggest_targets(header) if not mapping else [""] * len(header)
        for i, name in enumerate(header):
            entry = by_column.get(name.strip())
            if entry is None:
                initial[f"to_{i}"] = suggested[i]
                continue
            to = str(entry.get("to") or "")
            if to.startswith("custom."):
                initial[f"to_{i}"] = importing.CUSTOM
                initial[f"key_{i}"] = to.removeprefix("custom.")
            else:
                initial[f"to_{i}"] = to
            initial[f"type_{i}"] = entry.get("type") or "text"
            initial[f"empty_{i}"] = ", ".join(entry.get("placeholders") or [])
        return initial

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        columns: list[dict[str, Any]] = []
        column_field: list[str] = []
        for i, name in enumerate(self.header):
            to = cleaned.get(f"to_{i}") or ""
            if not to:
                continue
            entry: dict[str, Any] = {"column": name.strip()}
            if to == importing.CUSTOM:
                key = (cleaned.get(f"key_{i}") or "").strip() or importing.custom_key(name)
                entry["to"] = f"custom.{key}"
                kind = cleaned.get(f"type_{i}") or "text"
                if kind != "text":
                    entry["type"] = kind
            else:
                entry["to"] = to
            empty = _split(cleaned.get(f"empty_{i}") or "")
            if empty:
                entry["placeholders"] = empty
            columns.append(entry)
            column_field.append(f"to_{i}")
        raw: dict[str, Any] = {
            "time_zone": cleaned.get("time_zone") or "UTC",
            "placeholders": _split(cleaned.get("placeholders") or ""),
            "columns": columns,
        }
        if (cleaned.get("email_template") or "").strip():
            raw["email_template"] = cleaned["email_template"].strip()
        try:
            mapping = importing.mapping_load(raw)
            importing.mapping_check_header(mapping, self.header)
        except importing.MappingError as exc:
            self._mapping_error(exc.message, column_field)
            return cleaned
        except importing.ImportFailed as exc:
            self.add_error(None, exc.message)
            return cleaned
        cleaned["mapping_data"] = raw
        cleaned["mapping"] = mapping
        return cleaned

    def _mapping_error(self, message: str, column_field: list[str]) -> None:
        """Put a mapping_load message beside the column it names ("columns[2].to: ...")."""
        match = re.match(r"columns\[(\d+)\]\.(\w+): (.*)", message)
        if match and int(match.group(1)) < len(column_field):
            self.add_error(column_field[int(match.group(1))], match.group(3))
        elif message.startswith("email_template: "):
            self.add_error("email_template", message.removeprefix("email_template: "))
        elif message.startswith("columns: "):
            self.add_error(None, message.removeprefix("columns: "))
        else:
            self.add_error(None, message)
