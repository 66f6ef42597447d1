"""Kairos: an event-driven trading backbone made of stateless CloudEvents functions.

The package is the library every function depends on (``shared/`` in the repository).
Imports point one way: ``contracts`` <- ``domain`` <- ``runtime``/``bus``/``delivery``
(infrastructure) <- ``functions/`` (not a package of this library).
"""

__version__ = "0.1.0"
