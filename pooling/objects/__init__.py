"""Domain objects: plain functions over the DB, one module per entity.

Every function takes the request context first and returns plain dicts, so
the API serializes them and the conductor sends them over RPC unchanged.
"""
