"""pooling_api/controllers."""
