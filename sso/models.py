"""A school's single sign-on: its identity providers, whether students must use them, and the
link between a provider's account (its subject) and a Lectern account.

Every table lives in the school's schema, so providers, secrets and links are the school's own:
another school's host never sees them (docs/ARCHITECTURE.md, "Single sign-on").
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class IdentityProvider(models.Model):
    """One provider students may sign in with: Google, GitHub or any OpenID Connect server.

    ``client_secret`` holds the Fernet token of the secret (``sso.crypto``), never the
    secret itself. ``server_url`` is the OpenID Connect issuer (discovery at
    ``<server_url>/.well-known/openid-configuration``): Google's is fixed, GitHub has none.
    """

    class Kind(models.TextChoices):
        GOOGLE = "google", "Google"
        GITHUB = "github", "GitHub"
        OIDC = "oidc", "OpenID Connect"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Shown on the log-in button ("Continue with <name>").
    name = models.CharField(max_length=60)
    client_id = models.CharField(max_length=255)
    client_secret = models.TextField()
    server_url = models.URLField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # allauth's GitHub client has one callback URL per host, so one GitHub app a school.
            models.UniqueConstraint(
                fields=["kind"], condition=Q(kind="github"), name="sso_one_github_provider"
            ),
            models.CheckConstraint(
                condition=Q(kind="github") | ~Q(server_url=""), name="sso_server_url_needed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def provider_id(self) -> str:
        """allauth's id of this provider in URLs and state: ``github``, or ``p<pk>`` for an
        OpenID Connect provider (``/sso/oidc/p<pk>/login/``)."""
        return "github" if self.kind == self.Kind.GITHUB else f"p{self.pk}"


class SsoSettings(models.Model):
    """The school's one row of sign-in rules (``sso.selectors.sso_settings`` creates it)."""

    # Students may sign in only through an enabled provider (owners and instructors keep their
    # passwords, so nobody is locked out of the dashboard).
    require_sso_for_students = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="sso_settings_single_row")]

    def __str__(self) -> str:
        return f"Single sign-on required for students: {self.require_sso_for_students}"


class ExternalIdentity(models.Model):
    """A provider's account (``subject``: the OpenID Connect ``sub``, GitHub's user id) linked
    to a Lectern account of this school; removed with either."""

    provider = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The verified e-mail the provider gave when the link was made.
    email = models.EmailField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="sso_identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.subject} -> account {self.user_id}"
