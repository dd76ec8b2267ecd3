"""drivers/isolation."""
