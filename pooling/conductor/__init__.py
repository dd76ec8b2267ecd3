"""pooling/conductor."""
