"""Scheduling policies: the plugins of the ``pooling.schedulers`` namespace."""
