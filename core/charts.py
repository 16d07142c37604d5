"""What every Plotly chart of the app shares: a config that keeps the figures on the server and
speaks the user's language."""

from __future__ import annotations

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
