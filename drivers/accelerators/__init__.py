"""drivers/accelerators."""
