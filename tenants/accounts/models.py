"""Accounts. The table exists in every schema, so the same e-mail on two schools is two users,
and user ids repeat across schools: anything that crosses a request boundary (JWTs, media
tokens) must carry the tenant as well as the id."""

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower


class UserManager(BaseUserManager):
    """Creates users by e-mail (normalised, unique case-insensitively within the schema)."""

    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields):
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        fields.setdefault("role", User.Role.OWNER)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person with a role in one school (or platform staff in the public schema)."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        INSTRUCTOR = "instructor", "Instructor"
        STUDENT = "student", "Student"

    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    bio = models.TextField(blank=True)
    # IANA time zone name (e.g. "Europe/Lisbon").
    time_zone = models.CharField(max_length=64, default="UTC")
    # Storage key (default_storage, under tenants/<schema>/avatars/) of the re-encoded avatar.
    avatar = models.CharField(max_length=500, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @property
    def is_instructor(self) -> bool:
        """Owners and instructors may author courses, upload media and create access codes."""
        return self.role in (self.Role.OWNER, self.Role.INSTRUCTOR)
