"""Reading whole topics: moved to :mod:`kairos.bus.reader` (the operator API reads dead letters too)."""

from kairos.bus.reader import read_topics

__all__ = ["read_topics"]
