"""The Horizon plugin of the pool: Project > Compute > vGPUs and Admin > Accelerator pools.

Install with ``pip install pooling[dashboard]`` beside Horizon, then copy (or link) the files of
``pooling_dashboard/enabled/`` into ``openstack_dashboard/local/enabled/``. Both panels hide
themselves when the Keystone catalog has no ``accelerator-pool`` endpoint.
"""
