"""Domain errors with stable codes; api/errors.py maps each kind to an HTTP status once."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every rule violation a caller can act on. `code` is stable and machine-readable."""

    code = "domain_error"
    title = "Request refused"

    def __init__(self, detail: str | None = None, *, code: str | None = None,
                 errors: dict | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        self.errors = errors


class ValidationFailed(DomainError):
    code = "validation"
    title = "Invalid request"


class NotFound(DomainError):
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    """The request is valid but the current state forbids it (409)."""

    code = "conflict"
    title = "Conflict"


class StaleRevision(Conflict):
    """If-Match names an older version of the object than the stored one (lost update refused)."""

    code = "etag_mismatch"
    title = "Precondition failed"
    http_status = 412


class AuthenticationFailed(DomainError):
    code = "unauthorized"
    title = "Authentication required"


class PermissionDenied(DomainError):
    code = "forbidden"
    title = "Forbidden"


class RateLimited(DomainError):
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 60, **kw):
        super().__init__(detail, **kw)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    code = "unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5, **kw):
        super().__init__(detail, **kw)
        self.retry_after = retry_after
