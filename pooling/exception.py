"""Domain exceptions. pooling_api maps each ``code`` to an HTTP status in one place."""


class PoolingException(Exception):
    """Base class; ``code`` is the HTTP-ish status and ``error_code`` the stable API code."""

    code = 500
    error_code = 'pooling.internal'
    message = 'An unknown error occurred.'

    def __init__(self, message: str | None = None, **kwargs):
        self.kwargs = kwargs
        super().__init__(message or self.message % kwargs)


class Invalid(PoolingException):
    code = 400
    error_code = 'pooling.invalid'
    message = 'Invalid input: %(reason)s'


class UnknownConsumer(Invalid):
    """The consumer a vGPU names does not exist on its platform (a VM the vCenter lacks)."""

    error_code = 'pooling.unknown_consumer'
    message = '%(reason)s'


class NotFound(PoolingException):
    code = 404
    error_code = 'pooling.not_found'
    message = '%(kind)s %(ident)s not found.'


class Conflict(PoolingException):
    code = 409
    error_code = 'pooling.conflict'
    message = 'Conflict: %(reason)s'


class Duplicate(Conflict):
    error_code = 'pooling.duplicate'
    message = '%(kind)s %(ident)s already exists.'


class InUse(Conflict):
    error_code = 'pooling.in_use'
    message = '%(kind)s %(ident)s is in use: %(reason)s'


class NoCapacity(Conflict):
    error_code = 'pooling.no_capacity'
    message = 'No capacity for this vGPU: %(reason)s'


class QuotaExceeded(Conflict):
    error_code = 'pooling.quota_exceeded'
    message = 'Quota exceeded for project %(project_id)s: %(reason)s'


class GenerationConflict(PoolingException):
    """A device changed between decision and claim; the claim path retries."""

    code = 409
    error_code = 'pooling.concurrent_update'
    message = 'Device %(uuid)s changed concurrently.'


class ServiceUnavailable(PoolingException):
    """Something the request needs did not answer in time; the same request may be retried.

    ``headers`` go on the HTTP answer (``Retry-After``).
    """

    code = 503
    error_code = 'pooling.service_unavailable'
    message = '%(reason)s'
    retry_after = 5

    @property
    def headers(self) -> list:
        return [('Retry-After', str(self.retry_after))]
