"""Production settings: everything from the environment, HTTPS only, no defaults for secrets."""

from django.core.exceptions import ImproperlyConfigured

from tenants.logs import logging_config

from .base import *  # noqa: F403
from .base import LOG_LEVEL, email_settings, env

# Keys published in this repository (the development default of base.py, the old fallback of
# docker-compose.yml) and the prefix Django's startproject gives its throwaway keys: with any of
# them anyone who read the code forges JWTs, sessions, reset links and media tokens.
PLACEHOLDER_SECRET_KEYS = (
    "insecure-development-key-change-me-0123456789abcdef",
    "change-me-in-production-please-0123456789abcdef",
)
PLACEHOLDER_SECRET_KEY_PREFIXES = ("django-insecure-",)
# Django's own bar (check --deploy, security.W009): 50 characters, 5 different ones.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5


def secret_key_validate(value: str) -> str:
    """``value`` when it can sign in production, else ``ImproperlyConfigured`` saying why and
    how to make one (missing, shorter than 50 characters, fewer than 5 different characters, a
    published placeholder or a ``django-insecure-`` key)."""
    how = (
        " Set SECRET_KEY in the environment (or .env) to a random value of at least "
        f"{SECRET_KEY_MIN_LENGTH} characters, e.g. the output of: "
        'python3 -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
    if not value:
        raise ImproperlyConfigured("SECRET_KEY is not set." + how)
    if value in PLACEHOLDER_SECRET_KEYS or value.startswith(PLACEHOLDER_SECRET_KEY_PREFIXES):
        raise ImproperlyConfigured("SECRET_KEY is a published placeholder." + how)
    if len(value) < SECRET_KEY_MIN_LENGTH or len(set(value)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        raise ImproperlyConfigured("SECRET_KEY is too short or too repetitive." + how)
    return value


DEBUG = False
SECRET_KEY = secret_key_validate(env("SECRET_KEY", default=""))
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
globals().update(email_settings(EMAIL_BACKEND))
# Reset links: https on its standard port behind the TLS proxy (base.py has the development
# defaults).
PUBLIC_URL_SCHEME = env("PUBLIC_URL_SCHEME", default="https")
PUBLIC_URL_PORT = env.int("PUBLIC_URL_PORT", default=443)
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
