"""pooling_api/schemas."""
