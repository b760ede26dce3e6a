"""Development settings: debug pages, console e-mail, runserver served by daphne."""

from .base import *  # noqa: F403
from .base import email_settings, env

DEBUG = env.bool("DEBUG", default=True)
# The console unless EMAIL_URL names a mail server (base.email_settings).
globals().update(email_settings("django.core.mail.backends.console.EmailBackend"))
# Static files come from STATICFILES_DIRS through WhiteNoise's finders; nothing is collected
# here (STATIC_ROOT is for the production image), so WhiteNoise has no folder to scan.
STATIC_ROOT = None
