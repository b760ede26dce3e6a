"""Production settings: everything from the environment, HTTPS only, no defaults for secrets."""

from tenants.logs import logging_config

from .base import *  # noqa: F403
from .base import LOG_LEVEL, env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# EMAIL_URL (django-environ: smtp://user:password@host:587, smtp+tls://..., smtp+ssl://...)
# replaces the EMAIL_* variables above when set.
if env("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
# uvicorn serves no static files: WhiteNoise does (MIDDLEWARE in base), from the collected files.
WHITENOISE_USE_FINDERS = False
# Hashed, compressed static files collected at image build time (Dockerfile), served by
# WhiteNoise.
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}  # noqa: F405
# One JSON object per line (request_id, tenant, user_id on every record) for log shippers.
LOG_JSON = env.bool("LOG_JSON", default=True)
LOGGING = logging_config(json=LOG_JSON, level=LOG_LEVEL)
# /metrics answers 403 unless METRICS_ALLOWED_IPS or METRICS_TOKEN is set (or METRICS_OPEN).
METRICS_OPEN = env.bool("METRICS_OPEN", default=False)
