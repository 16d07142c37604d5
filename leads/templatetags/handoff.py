from django import template
from django.utils.translation import get_language

from core.charts import plotly_config
from core.vendor import plotly_js_name
from leads import models

register = template.Library()


@register.filter
def person(user) -> str:
    """A user's full name, else their username, else a dash."""
    if not user:
        return "—"
    return user.get_full_name() or user.get_username()


@register.filter
def reason_label(code: str) -> str:
    """A stage event's reason code in words (rejection, recycle, scoring reasons)."""
    return models.reason_label(code)


@register.filter
def source_label(code: str | None) -> str:
    """A lead source in words (leads.models.source_label)."""
    return models.source_label(code)


@register.inclusion_tag("_plotly.html")
def plotly_scripts() -> dict:
    """plotly.js (versioned, gzipped), the user's locale for it, and the shared config
    (core.charts.plotly_config) as JSON for the page's chart script."""
    config = plotly_config(get_language())
    return {
        "plotly_js": plotly_js_name(),
        "locale_js": None
        if config["locale"] == "en"
        else f"js/plotly-locale-{config['locale']}.js",
        "config": config,
    }
