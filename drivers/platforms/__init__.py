"""drivers/platforms."""
