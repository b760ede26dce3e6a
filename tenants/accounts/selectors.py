"""Account reads: avatars and the public profile of an account."""

from django.contrib.auth import get_user_model
from django.urls import reverse

User = get_user_model()


def avatar_path(user) -> str:
    """The path of ``user``'s avatar (``/accounts/<id>/avatar?v=<version>``): the version
    changes with the stored file, so the answer may be cached for long. Only meaningful when
    ``user.avatar`` is set."""
    version = user.avatar.rsplit(".", 1)[0][-12:]
    return f"{reverse('account-avatar', kwargs={'user_id': user.pk})}?v={version}"


def avatar_key(*, user_id: int) -> str:
    """The storage key of the avatar of active account ``user_id`` of the current schema, or
    ``""`` (no such account, inactive, or no avatar)."""
    key = User.objects.filter(pk=user_id, is_active=True).values_list("avatar", flat=True).first()
    return key or ""
