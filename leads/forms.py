import zoneinfo

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Profile, Stage


def _time_zone_choices() -> list[tuple[str, str]]:
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


class LeadFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    stage = forms.ChoiceField(
        label=_("Stage"), choices=[("", _("All stages"))] + Stage.choices, required=False
    )
    source = forms.CharField(label=_("Source"), required=False)
