"""plotly.js is ours to serve: a versioned name, gzipped on the wire, cached for a year."""

import gzip

import pytest
from django.test import Client, override_settings

from core.vendor import VendorFinder, plotly_js_name, plotly_version


def test_plotly_has_a_versioned_static_name():
    assert plotly_version()[0].isdigit()
    assert plotly_js_name() == f"vendor/plotly-{plotly_version()}.min.js"
    assert [name for name, _storage in VendorFinder().list(None)] == [
        plotly_js_name().split("/")[1]
    ]


@override_settings(
    WHITENOISE_USE_FINDERS=True,
    WHITENOISE_AUTOREFRESH=True,
    WHITENOISE_IMMUTABLE_FILE_TEST=r"/vendor/plotly-[0-9][0-9A-Za-z.+-]*\.min\.js$",
)
@pytest.mark.parametrize("encoding", ["gzip", ""])
def test_plotly_is_served_compressed_and_cached_for_a_year(encoding):
    response = Client().get(f"/static/{plotly_js_name()}", HTTP_ACCEPT_ENCODING=encoding)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert "immutable" in response["Cache-Control"]
    assert "max-age=315360000" in response["Cache-Control"]
    assert "Accept-Encoding" in response["Vary"]
    if encoding:
        assert response["Content-Encoding"] == "gzip"
        # 4.8 MB of JavaScript travels as well under 2 MB.
        assert len(body) < 2_000_000
        assert gzip.decompress(body).startswith(b"/**\n* plotly.js v")
    else:
        assert "Content-Encoding" not in response
        assert len(body) > 4_000_000
