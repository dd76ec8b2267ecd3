"""Unit tests of pooling.scheduler."""
