"""How Horizon should treat the pool API's errors (enabled/ ADD_EXCEPTIONS).

Every error of the API is an ApiError that carries the API's own sentence; Horizon shows it as
an error message (recoverable) and a 404 as "not found".
"""

from poolingclient import exceptions

RECOVERABLE = (exceptions.ApiError, exceptions.NoUniqueMatch)
NOT_FOUND = (exceptions.NotFound,)
UNAUTHORIZED = ()
