"""What every Plotly chart of the app shares: a config that keeps the figures on the server and
speaks the user's language."""

from __future__ import annotations

import html
from typing import Any

# Modebar buttons that send a figure to another server ("Share chart..." uploads it to Plotly's
# cloud). The names differ between plotly.js versions: all of them, whichever this one has.
OFF_SERVER_BUTTONS = ("sendChartToCloud", "sendDataToCloud", "editInChartStudio")


def plotly_config(language: str | None) -> dict[str, Any]:
    """The config of every Plotly.newPlot: no cloud share, no logo link, no "edit in Chart
    Studio" link, no server to post to; the locale of the user's language (registered by
    static/js/plotly-locale-<language>.js)."""
    return {
        "displaylogo": False,
        "showSendToCloud": False,
        "showEditInChartStudio": False,
        "showLink": False,
        "plotlyServerURL": "",
        "modeBarButtonsToRemove": list(OFF_SERVER_BUTTONS),
        "responsive": True,
        "locale": plotly_locale(language),
    }


def plotly_locale(language: str | None) -> str:
    return "ja" if (language or "").startswith("ja") else "en"


def plain_text_figure(figure: dict[str, Any]) -> dict[str, Any]:
    """The figure with every text shown as plain text: `<`, `>` and `&` escaped, so a lead's
    source or a rep's name can never become markup inside a chart (Plotly renders a subset
    of HTML in labels, legends and hovers: links, styles). Plotly turns the entities back into
    the characters on screen. Templates (`hovertemplate`, Plotly's `template`) are ours and
    kept as they are."""

    def clean(value: Any, key: str = "") -> Any:
        if key.endswith("template"):
            return value
        if isinstance(value, str):
            return html.escape(value, quote=False)
        if isinstance(value, dict):
            return {k: clean(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v, key) for v in value]
        return value

    return clean(figure)
