"""Development settings: debug pages, console e-mail, runserver served by daphne."""

from .base import *  # noqa: F403
from .base import email_settings, env

DEBUG = env.bool("DEBUG", default=True)
# The console unless EMAIL_URL names a mail server (base.email_settings).
globals().update(email_settings("django.core.mail.backends.console.EmailBackend"))
# Static files come from STATICFILES_DIRS through WhiteNoise's finders; nothing is collected
# here (STATIC_ROOT is for the production image), so WhiteNoise has no folder to scan.
STATIC_ROOT = None
# Webhook endpoints on this machine (http://127.0.0.1:PORT/...) can be tried while developing;
# base.py refuses both everywhere else.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=True)
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
