"""One error contract for the whole application.

Domain code raises :class:`ApplicationError` subclasses with a stable ``code`` and a
translatable message. :func:`api_exception_handler` turns those, Django's validation and
permission errors and DRF's own exceptions into a 4xx response with the body
``{"code", "message", "extra"}``. HTML views catch ``ApplicationError`` and show ``message``.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A refusal the user can act on. Subclasses set ``code``, ``message`` and ``status``."""

    code = "application_error"
    message = _("The request could not be completed.")
    status = status.HTTP_400_BAD_REQUEST

    def __init__(self, message=None, *, extra: dict | None = None):
        if message is not None:
            self.message = message
        self.extra = extra or {}
        super().__init__(str(self.message))


class NotFound(ApplicationError):
    code = "not_found"
    message = _("Not found.")
    status = status.HTTP_404_NOT_FOUND


class Forbidden(ApplicationError):
    code = "permission_denied"
    message = _("You do not have permission to do this.")
    status = status.HTTP_403_FORBIDDEN


class Throttled(ApplicationError):
    code = "throttled"
    message = _("Too many requests. Please try again later.")
    status = status.HTTP_429_TOO_MANY_REQUESTS


class ErrorSerializer(serializers.Serializer):
    """The error body, for the OpenAPI schema of every endpoint."""

    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


def _body(code: str, message, extra: dict | None = None) -> dict:
    return {"code": code, "message": str(message), "extra": extra or {}}


def error_response(exc: ApplicationError, response_class=JsonResponse):
    """The API's answer to an application error: for a plain Django view (a hot path that
    answers without DRF's dispatch) and for DRF's handler below, the same body and headers."""
    response = response_class(_body(exc.code, exc.message, exc.extra), status=exc.status)
    if "retry_after" in exc.extra:
        response["Retry-After"] = str(int(exc.extra["retry_after"]))
    return response


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return error_response(exc, Response)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let it be a 500 and reach the error log
    if isinstance(exc, exceptions.ValidationError):
        response.data = _body("invalid", _("Some fields are not valid."), {"fields": exc.detail})
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        if not isinstance(code, str):
            code = "error"
        response.data = _body(code, detail)
    return response
