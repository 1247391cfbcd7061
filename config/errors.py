"""The one base for business errors. Each app subclasses it in its own errors.py."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the market said no. Rendered as {"code", "detail", "fields"} with `status`."""

    code = "error"
    status = 400
    default_detail = "The request could not be carried out."

    def __init__(self, detail: str | None = None, *, field: str | None = None, **context: Any):
        self.detail = detail or self.default_detail.format(**context)
        self.field = field
        self.context = context
        super().__init__(self.detail)

    def as_dict(self) -> dict[str, Any]:
        fields = {self.field: [self.detail]} if self.field else {}
        return {"code": self.code, "detail": self.detail, "fields": fields}


class Conflict(DomainError):
    code = "conflict"
    status = 409


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_detail = "Not found."


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    default_detail = "You are not allowed to do that."


class InvalidInput(DomainError):
    code = "invalid"
    status = 400
