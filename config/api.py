"""One exception handler renders every API error as {"code", "detail", "fields"}."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, parsers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError

logger = logging.getLogger(__name__)


def _field_errors(detail: Any, path: str = "") -> dict[str, list[str]]:
    """The messages of a validation error by field: always a flat {name: [message, ...]}, as
    the schema says. Nested input is named by its path: `specs.0.value`. Messages that belong
    to no field go under `non_field_errors`."""
    nested: Iterable[tuple[object, Any]]
    if isinstance(detail, dict):
        nested = detail.items()
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        nested = enumerate(detail)
    else:
        messages = detail if isinstance(detail, list) else [detail]
        return {path or "non_field_errors": [str(message) for message in messages]}
    fields: dict[str, list[str]] = {}
    for key, value in nested:
        for name, messages in _field_errors(value, f"{path}.{key}" if path else str(key)).items():
            fields.setdefault(name, []).extend(messages)
    return fields


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
    # Django's own 404 and 403 get the same {"code", "detail", "fields"} body as DRF's.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        detail = next((messages[0] for messages in fields.values() if messages), "Invalid input.")
        response.data = {"code": "invalid", "detail": detail, "fields": fields}
    elif isinstance(exc, exceptions.APIException):
        response.data = {
            "code": exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code,
            "detail": str(exc.detail),
            "fields": {},
        }
    return response


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also refusing text that is not Unicode. JSON can spell an unpaired
    surrogate ("\\ud800"), which Python parses but which can be neither stored nor sent back as
    UTF-8: the request would fail with a 500 after its order was saved."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:
            raise exceptions.ParseError(
                "JSON parse error - a string holds an unpaired surrogate (\\ud800 to \\udfff)."
            ) from error
        return data


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, but a `?format=` that names no renderer is ignored, like any other
    unknown query parameter, instead of answering 404."""

    def filter_renderers(
        self, renderers: Iterable[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        renderers = list(renderers)
        return [renderer for renderer in renderers if renderer.format == format] or renderers


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The site's 404 (handler404): under /api/ the usual JSON error, so that an address no
    endpoint matches (`/api/v1/orders/abc/`) is answered like an unknown order; a page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "detail": "Nothing is found at this address.", "fields": {}},
            status=status.HTTP_404_NOT_FOUND,
        )
    return page_not_found(request, exception)


UNSUPPORTED_MEDIA_TYPE = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
    "description": "The body's media type is not one this operation takes.",
}


def document_unsupported_media_type(
    result: dict[str, Any], generator: object, request: object, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation with a request body can answer 415
    (a body without a Content-Type, or in a media type none of its parsers reads)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation:
                operation["responses"].setdefault("415", UNSUPPORTED_MEDIA_TYPE)
    return result
