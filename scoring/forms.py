from django import forms
from django.utils.translation import gettext_lazy as _


class CommentForm(forms.Form):
    text = forms.CharField(
        label=_("Comment"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )


# The longest period the tuning pages look at: beyond it the model and the market have moved.
TUNING_MAX_DAYS = 3 * 366


class TuningPeriodForm(forms.Form):
    """The period of MQLs the evidence is taken from (both days included)."""

    start = forms.DateField(
        label=_("MQLs from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                self.add_error("end", _("The end must not be before the start."))
            elif (end - start).days > TUNING_MAX_DAYS:
                self.add_error("start", _("Choose at most three years."))
        elif start or end:
            self.add_error("start" if not start else "end", _("Give both days, or neither."))
        return data
