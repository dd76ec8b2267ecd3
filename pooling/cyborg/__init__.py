"""The pool's side of the OpenStack route: Cyborg device profiles, ARQs, slots."""
