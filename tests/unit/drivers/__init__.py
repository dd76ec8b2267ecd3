"""Unit tests of the accelerator drivers, isolation plugins and the agent code using them."""
