from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A trader, vehicle owner or operator (is_staff)."""

    display_name = models.CharField(
        max_length=40, blank=True, help_text="Shown on leaderboards instead of the username."
    )

    @property
    def public_name(self) -> str:
        return self.display_name or self.username

    def __str__(self) -> str:
        return self.username
