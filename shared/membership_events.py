"""Mixin for a service that keeps a membership read model (``shared.membership_readmodel``):
one handler per membership event that names members, each on its own durable queue, each
event applied once.

    class IncubationService(MembershipEventHandlers, OpsEndpoints):
        membership_readmodel = readmodel.memberships   # a MembershipReadModel

The six events naming one membership go to ``membership_readmodel.apply_membership``,
``memberships_lapsed`` (an enterprise closed) to ``apply_lapsed``, with ``as_of`` the time
of the event, through ``apply_membership_event``; a service that does more with a change
(competitions flags the nomination of a member who left) overrides that one method. The
handler names, hence the queue names, are the ones competitions had.
"""

from shared.consumers import event_handler
from shared.registry_events import event_time


class MembershipEventHandlers:
    membership_readmodel = None  # the service's MembershipReadModel

    def apply_membership_event(self, event, lapsed: bool = False):
        """``lapsed``: the event is ``memberships_lapsed`` (every member at an enterprise)."""
        model = self.membership_readmodel
        self.db.apply_once(event, model.apply_lapsed if lapsed else model.apply_membership,
                           event_time(event))

    @event_handler("membership", "membership_applied")
    def handle_membership_applied(self, event):
        self.apply_membership_event(event)

    @event_handler("membership", "membership_approved")
    def handle_membership_approved(self, event):
        self.apply_membership_event(event)

    @event_handler("membership", "membership_rejected")
    def handle_membership_rejected(self, event):
        self.apply_membership_event(event)

    @event_handler("membership", "membership_transferred")
    def handle_membership_transferred(self, event):
        """The new membership replaces the old: the worker's current one."""
        self.apply_membership_event(event)

    @event_handler("membership", "membership_lapsed")
    def handle_membership_lapsed(self, event):
        self.apply_membership_event(event)

    @event_handler("membership", "membership_left")
    def handle_membership_left(self, event):
        self.apply_membership_event(event)

    @event_handler("membership", "memberships_lapsed")
    def handle_memberships_lapsed(self, event):
        self.apply_membership_event(event, lapsed=True)
