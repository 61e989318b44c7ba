"""The public event contract: envelope, catalogue, and one module of schemas per source.

Importing this package loads every source's schemas, so ``catalogue`` is complete.
"""

from shared.events import (
    competitions,  # noqa: F401, E402  (fills the catalogue)
    disputes,  # noqa: F401, E402  (fills the catalogue)
    incubation,  # noqa: F401, E402  (fills the catalogue)
    membership,  # noqa: F401, E402  (fills the catalogue)
    notifications,  # noqa: F401, E402  (fills the catalogue)
    registry,  # noqa: F401, E402  (fills the catalogue)
)
from shared.events.envelope import (
    Event,
    EventType,
    InvalidEvent,
    catalogue,
    make_envelope,
    parse_envelope,
)

__all__ = ["Event", "EventType", "InvalidEvent", "catalogue", "make_envelope", "parse_envelope"]
