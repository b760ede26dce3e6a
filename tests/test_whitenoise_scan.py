"""The test settings' WhiteNoise (tests/plugins/whitenoise.py) serves what the stock one does
and scans the static finders once per process and settings."""

from whitenoise.middleware import WhiteNoiseMiddleware as StockWhiteNoiseMiddleware

from tests.plugins.whitenoise import WhiteNoiseMiddleware


def _served(middleware) -> dict[str, tuple]:
    """Per static URL: its ETag and, per encoding, the file path and the headers sent."""
    return {
        url: (entry.etag, [(path, sorted(headers)) for _, path, headers in entry.alternatives])
        for url, entry in middleware.files.items()
    }


def _respond(request):
    return None


def test_a_second_chain_reuses_the_first_scan_and_serves_the_same_files(settings):
    settings.STATIC_URL = "/static-scan-test/"  # settings no other test's scan was made with
    stock = StockWhiteNoiseMiddleware(_respond)

    first = WhiteNoiseMiddleware(_respond)
    second = WhiteNoiseMiddleware(_respond)

    assert _served(first) == _served(stock)
    assert _served(second) == _served(stock)
    assert "/static-scan-test/build/player.js" in stock.files
    assert "/static-scan-test/admin/css/base.css" in stock.files
    url = "/static-scan-test/build/player.js"
    assert second.files[url] is first.files[url]
    assert stock.files[url] is not first.files[url]


def test_other_settings_get_a_scan_of_their_own(settings):
    settings.STATIC_URL = "/static-scan-one/"
    one = WhiteNoiseMiddleware(_respond)
    settings.STATIC_URL = "/static-scan-two/"
    two = WhiteNoiseMiddleware(_respond)
    settings.WHITENOISE_MAX_AGE = 7
    three = WhiteNoiseMiddleware(_respond)

    assert {url.split("/")[1] for url in one.files} == {"static-scan-one"}
    assert {url.split("/")[1] for url in two.files} == {"static-scan-two"}
    headers = dict(three.files["/static-scan-two/build/player.js"].alternatives[-1][2])
    assert headers["Cache-Control"] == "max-age=7, public"
    assert dict(two.files["/static-scan-two/build/player.js"].alternatives[-1][2])[
        "Cache-Control"
    ] == ("max-age=60, public")
