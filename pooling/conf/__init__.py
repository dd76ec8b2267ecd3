"""pooling/conf."""
