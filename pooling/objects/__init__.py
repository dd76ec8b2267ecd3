"""pooling/objects."""
