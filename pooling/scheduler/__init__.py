"""pooling/scheduler."""
