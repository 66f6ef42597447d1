"""Event contracts: one frozen pydantic model per event type and version.

Nothing here does I/O. ``codec`` is the only module that knows CloudEvents encodings;
``registry`` maps each (type, version) to its model and rejects unknown ones.
"""
