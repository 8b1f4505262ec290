"""One router per resource; routes are thin and call :mod:`backend.services`."""
