import hashlib
import secrets

from django.conf import settings
from django.db import models

TOKEN_PREFIX = "om_"


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A named, revocable API key of one user. Only its sha256 is stored: the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False, help_text="The key's first characters, to tell keys apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    act_as_any = models.BooleanField(
        default=False, editable=False, verbose_name="acts for any user",
        help_text="May name another user (user_id) and act for them: for an administrator's scripts. Every such "
                  "request is logged with both names. Made with `create_token --act-as-any`.")

    class Meta:
        verbose_name = "API token"

    def __str__(self):
        return f"{self.prefix}… ({self.name})"

    @staticmethod
    def new_key() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)
