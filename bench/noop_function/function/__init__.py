"""A func-python function that does nothing: the ceiling of the HTTP path."""
