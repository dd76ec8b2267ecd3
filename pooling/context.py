"""Request context: who is asking (oslo.context) plus the DB transaction hook."""

from oslo_context import context as o_context
from oslo_db.sqlalchemy import enginefacade


@enginefacade.transaction_context_provider
class RequestContext(o_context.RequestContext):
    """A request context that oslo.db's reader/writer decorators can carry."""


def get_admin_context() -> RequestContext:
    """Context for the service's own work (conductor, agents, reconciler)."""
    return RequestContext(is_admin=True, roles=['admin'], project_id=None, overwrite=False)
