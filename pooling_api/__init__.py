"""pooling_api."""
