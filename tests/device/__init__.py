"""Tests for the lent device machine (an accelerator); skipped elsewhere, saying why."""
