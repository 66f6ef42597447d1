"""Pure decision and execution logic: no I/O, so it is tested without any server."""
