"""pooling/cmd."""
