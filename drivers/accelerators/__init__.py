"""Accelerator drivers (``pooling.accelerators``): the contract in base.py, types.py, errors.py
and seam.py; one module per vendor family."""
