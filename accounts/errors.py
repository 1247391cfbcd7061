"""The accounts app's business errors. Each renders as {"code", "detail", "fields"}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from config.errors import InvalidInput


class FieldErrors(InvalidInput):
    """Several fields said no at once: `fields` maps each field name to its messages."""

    code = "invalid"

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        first_field = next(iter(fields), None)
        detail = fields[first_field][0] if first_field else None
        super().__init__(detail, field=first_field)

    @classmethod
    def from_django(cls, error: ValidationError) -> FieldErrors:
        """Django's `full_clean()` errors, field by field (`__all__` becomes non_field_errors)."""
        fields = {
            ("non_field_errors" if name == "__all__" else name): list(messages)
            for name, messages in error.message_dict.items()
        }
        return cls(fields)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, "fields": self.fields}


class RegistrationInvalid(FieldErrors):
    code = "registration_invalid"


class UsernameTaken(InvalidInput):
    code = "username_taken"
    default_detail = "A user with that username already exists."

    def __init__(self) -> None:
        super().__init__(field="username")


class CredentialsInvalid(InvalidInput):
    code = "invalid_credentials"
    default_detail = "The username or password is incorrect, or the account is disabled."

    def __init__(self) -> None:
        super().__init__(field="non_field_errors")


class ProfileInvalid(FieldErrors):
    code = "profile_invalid"
