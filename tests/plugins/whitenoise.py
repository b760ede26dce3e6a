"""WhiteNoise for the test settings, which scans the static finders once per process.

Django's test client builds the middleware chain again for every client it makes, and
WhiteNoise reads every file the static finders list when it is built (``WHITENOISE_USE_FINDERS``:
static/, the admin's, DRF's and Swagger UI's files, about 220 of them). That scan cost 46 ms per
client, a fifth of the time of the view tests. The files do not change while the tests run, so
a process reuses its first scan for the same settings; what is served, and with which headers,
is unchanged.
"""

from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware as _WhiteNoiseMiddleware

# Every setting that decides which files the scan finds or the headers it stores with them.
_SCAN_SETTINGS = (
    "STATIC_URL",
    "STATICFILES_DIRS",
    "STATICFILES_FINDERS",
    "INSTALLED_APPS",
    "FORCE_SCRIPT_NAME",
    "DEBUG",
    "WHITENOISE_STATIC_PREFIX",
    "WHITENOISE_MAX_AGE",
    "WHITENOISE_ALLOW_ALL_ORIGINS",
    "WHITENOISE_CHARSET",
    "WHITENOISE_MIMETYPES",
    "WHITENOISE_ADD_HEADERS_FUNCTION",
    "WHITENOISE_INDEX_FILE",
    "WHITENOISE_IMMUTABLE_FILE_TEST",
)


class WhiteNoiseMiddleware(_WhiteNoiseMiddleware):
    """``whitenoise.middleware.WhiteNoiseMiddleware`` whose finder scan is made once per
    process for each combination of the settings in ``_SCAN_SETTINGS``."""

    _scans: dict[str, dict] = {}

    def add_files_from_finders(self) -> None:
        key = repr([getattr(settings, name, None) for name in _SCAN_SETTINGS])
        scanned = self._scans.get(key)
        if scanned is None:
            before = set(self.files)
            super().add_files_from_finders()
            scanned = {url: entry for url, entry in self.files.items() if url not in before}
            self._scans[key] = scanned
        else:
            self.files.update(scanned)
