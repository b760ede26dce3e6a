"""The platform's rows of ``schools``, in the public schema (a shared app only): platform API
keys, one-time log-in links into a new school, and the answers kept for ``Idempotency-Key``.

Rows that belong to a school name it by ``schema_name`` (a plain value): the accounts they
point at live in that school's schema.
"""

from django.conf import settings
from django.db import models


class PlatformApiKey(models.Model):
    """A key of the platform API (``Authorization: Bearer <key>`` on the platform host).

    The key itself is never stored: ``key_hash`` is HMAC-SHA256 (PLATFORM_API_KEY_HASH_KEY) of
    it and ``prefix`` its first 8 characters, shown in the admin to tell keys apart
    (``schools.services.platform_api_key_create``). A revoked key (``revoked_at`` set)
    authenticates nothing; ``last_used_at`` is written at most once a minute.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "platform API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class LoginLink(models.Model):
    """A one-time link that signs the account ``user_id`` of school ``schema_name`` in on the
    school's host (sessions are host-only, so the platform host cannot sign anyone in there).

    Only ``token_hash`` (SHA-256 of the token) is stored; the link works once
    (``used_at``), before ``expires_at`` (SCHOOL_LOGIN_LINK_SECONDS after its creation) and on
    that school's hosts only (``schools.services.login_link_consume``).
    """

    schema_name = models.CharField(max_length=63)
    user_id = models.BigIntegerField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="schools_loginlink_expires")]

    def __str__(self) -> str:
        return f"log-in link of account {self.user_id} in {self.schema_name}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST of the API sent with an ``Idempotency-Key``
    (``schools.idempotency``), per school (``schema_name``), caller (``principal``:
    ``user:<id>``, ``key:<platform API key id>`` or ``ip:<client address>``) and key.

    ``fingerprint`` is SHA-256 of the method, path, query string and body; ``status`` is null
    while the first request runs (others with the key get 409), then the answer's status code
    with its ``headers`` (the replayed ones, name -> value) and ``body`` (bytes). Records
    expire at ``expires_at`` (IDEMPOTENCY_KEY_HOURS after the first request) and are deleted by
    the beat task ``schools.tasks.idempotency_records_prune``.
    """

    schema_name = models.CharField(max_length=63)
    principal = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["schema_name", "principal", "key"], name="schools_idempotency_unique"
            )
        ]
        indexes = [models.Index(fields=["expires_at"], name="schools_idempotency_expires")]

    def __str__(self) -> str:
        return f"{self.key} of {self.principal} in {self.schema_name}"
