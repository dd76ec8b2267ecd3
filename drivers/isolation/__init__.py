"""Isolation plugins (``pooling.isolation``): the contract in base.py; plain.py (none, hami,
mps) and partition.py (mig, ascend-vnpu, hygon-vdcu)."""
