"""pooling/db."""
