"""pooling/agent."""
