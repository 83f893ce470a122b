"""API tokens for scripts: `Authorization: Bearer <token>`. Only a hash is stored, so a leaked
database does not leak working tokens; the token itself is shown once, when it is created."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone

LAST_USED_RESOLUTION = timedelta(minutes=1)
if TYPE_CHECKING:
    from django.contrib.auth.models import User

TOKEN_PREFIX = "bms_"  # noqa: S105 - marks tokens in logs and scanners


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        """A new token row and the plain token, which is not stored anywhere."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(user=user, name=name, key_hash=hash_token(token))
        return row, token

    @classmethod
    def user_for(cls, token: str) -> User | None:
        """The active user owning `token`, or None; records when it was last used."""
        row = cls.objects.select_related("user").filter(key_hash=hash_token(token)).first()
        if row is None or not row.user.is_active:
            return None
        now = timezone.now()
        # At most one write a minute per token: scripts poll, and on SQLite every write takes
        # the database's single write lock.
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            cls.objects.filter(id=row.id).update(last_used_at=now)
        return row.user
