"""pooling_api/policies."""
