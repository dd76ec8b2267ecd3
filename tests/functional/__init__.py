"""tests/functional."""
