"""Unit tests of the remote data plane: gateway, credentials, lease documents, pooling run."""
