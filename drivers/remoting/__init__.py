"""drivers/remoting."""
