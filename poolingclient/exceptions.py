"""Errors the client raises, each carrying the one line a user should read.

The API answers every failure with an API-SIG error body; the CLI prints its
``detail`` and nothing else, so the message of these exceptions is that line.
"""

from osc_lib import exceptions as osc_exceptions


class ClientError(Exception):
    """Base of every error raised by poolingclient."""


class CommandError(osc_exceptions.CommandError, ClientError):
    """The command line was used wrongly; nothing was sent to the service."""


class ApiError(ClientError):
    """The service answered with an HTTP error status."""

    def __init__(
        self, status: int, detail: str, code: str | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        text = f"{self.detail} (HTTP {self.status})"
        if self.request_id:
            text += f" (Request-ID: {self.request_id})"
        return text


class NotFound(ApiError):
    """HTTP 404 from the service, or a name that matches nothing."""


class Conflict(ApiError):
    """HTTP 409: no capacity, quota exceeded, or the resource is in use."""


class NoUniqueMatch(ClientError):
    """A name matches more than one resource; the user must give the ID."""


_BY_STATUS = {404: NotFound, 409: Conflict}


def from_response(response) -> ApiError:
    """Build the exception for an error response, reading its API-SIG body."""
    status = response.status_code
    detail = code = None
    request_id = response.headers.get("x-openstack-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            detail = first.get("detail") or first.get("title")
            code = first.get("code")
            request_id = first.get("request_id") or request_id
        elif isinstance(body.get("error"), dict):
            # NOTE: middleware outside the app (keystonemiddleware) answers
            # with its own {"error": {"message": ...}} shape.
            detail = body["error"].get("message")
    if not detail:
        text = (response.text or "").strip().splitlines()
        detail = text[0] if text else (response.reason or "request failed")
    # NOTE: keep the message on one line, whatever the server sent.
    detail = " ".join(str(detail).split())
    cls = _BY_STATUS.get(status, ApiError)
    return cls(status, detail, code=code, request_id=request_id)
