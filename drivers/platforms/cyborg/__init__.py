"""The pool's Cyborg driver: runs inside an unmodified cyborg-agent (entry point ``pooling``)."""
