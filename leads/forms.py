from __future__ import annotations

import json
import zoneinfo
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from . import importing
from .models import Profile

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


class ImportForm(forms.Form):
    """A CSV upload and its mapping. Checks the mapping against the header, and small files
    whole, so the user sees a structural problem at once instead of a failed job."""

    # Larger files are checked by the job (the user gets the job page at once).
    FULL_CHECK_BYTES = 5 * 1024 * 1024

    file = forms.FileField(
        label=_("CSV file"), help_text=_("UTF-8, with a first line naming the columns.")
    )
    shipped = forms.ChoiceField(label=_("Saved mapping"), required=False, choices=())
    mapping = forms.CharField(
        label=_("Mapping (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 18, "cols": 90, "spellcheck": "false"}),
        help_text=_("Used when no saved mapping is chosen."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shipped = cast(forms.ChoiceField, self.fields["shipped"])
        shipped.choices = [("", _("None: use the JSON below"))] + [
            (name, name) for name in importing.shipped_mappings()
        ]
        self.fields["mapping"].initial = json.dumps(importing.EXAMPLE_MAPPING, indent=2)

    def clean_file(self) -> UploadedFile:
        file = self.cleaned_data["file"]
        if not (file.name or "").lower().endswith(".csv"):
            raise forms.ValidationError(_("Upload a .csv file."))
        return file

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        try:
            if cleaned.get("shipped"):
                raw = importing.shipped_mapping_load(cleaned["shipped"])
            elif (cleaned.get("mapping") or "").strip():
                raw = importing.mapping_decode(cleaned["mapping"])
            else:
                self.add_error("mapping", _("Choose a saved mapping or write one in JSON."))
                return cleaned
            mapping = importing.mapping_load(raw)
        except importing.MappingError as exc:
            self.add_error("mapping", exc.message)
            return cleaned
        cleaned["mapping_data"] = raw
        file = cleaned.get("file")
        if file is not None:
            try:
                importing.upload_check(
                    file, mapping, full=(file.size or 0) <= self.FULL_CHECK_BYTES
                )
            except importing.MappingError as exc:
                self.add_error("mapping", exc.message)
            except importing.ImportFailed as exc:
                self.add_error("file", exc.message)
        return cleaned
