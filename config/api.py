"""One exception handler renders every API error as {"code", "detail", "fields"}."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError

logger = logging.getLogger(__name__)


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, OperationalError):
        logger.exception("database unavailable")
        return Response(
            {
                "code": "service_unavailable",
                "detail": "The market's database is unavailable; nothing was changed. Try again.",
                "fields": {},
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return Response(
            {"code": "database_error", "detail": "The request could not be stored.", "fields": {}},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        first = next(iter(fields.values()), ["Invalid input."])
        detail = first[0] if isinstance(first, list) and first else str(first)
        response.data = {"code": "invalid", "detail": str(detail), "fields": fields}
    elif isinstance(exc, exceptions.APIException):
        response.data = {
            "code": exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code,
            "detail": str(exc.detail),
            "fields": {},
        }
    return response
