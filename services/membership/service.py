"""The membership service: entrypoints only. Rules live in ``domain``, use cases in
``operations`` and ``readmodel``; the gateway's HTTP routes call these RPC methods with
the authenticated caller ({"name", "role", "org_code"}).
"""

from contextlib import contextmanager
from pathlib import Path

from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from services.membership import domain, readmodel, sample
from services.membership import operations as ops
from services.membership import schemas as s
from services.membership.pii import load_keys
from shared.consumers import event_handler
from shared.dependencies import Database, Metrics, PersonalDataKeys, RateLimits
from shared.errors import Conflict, InvalidInput
from shared.rpc import rpc
from shared.web import OpsEndpoints

MIGRATIONS = Path(__file__).parent / "migrations"


def _id(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{name} must be a positive whole number", {name: [repr(value)[:40]]})
    return value


def _caller_id(caller) -> int:
    """The gateway user's id: what card checks are counted by."""
    if not isinstance(caller, dict):
        raise InvalidInput("a card check needs the caller", {"caller": ["required"]})
    return _id(caller.get("id"), "caller id")


class MembershipService(OpsEndpoints):
    name = "membership"
    db = Database(MIGRATIONS)
    metrics = Metrics()
    keys = PersonalDataKeys(load_keys)  # MEMBERSHIP_PII_KEY: seals ID numbers and phones
    limits = RateLimits("MEMBERSHIP_RATE_LIMITS", domain.RATE_LIMITS)

    @contextmanager
    def _changes(self):
        """A unit of work for a request. A race lost to another request on a unique rule
        (one current membership per worker, one worker per ID number) is a 409, and the
        database's message, which names the values, stays out of the answer."""
        try:
            with self.db.unit_of_work() as uow:
                yield uow
        except IntegrityError:
            raise Conflict("changed by another request at the same time; try again") \
                from None

    # --- applications and memberships ------------------------------------------

    @rpc
    def apply_online(self, application):
        """A worker applies on the 智慧工建 platform (no staff involved)."""
        data = s.load(s.ApplicationSchema(), application, "application rejected")
        with self._changes() as uow:
            return s.MembershipOut().dump(ops.apply(uow, self.keys, data, None, "online"))

    @rpc
    def enter_application(self, application, caller):
        """Union staff enter a paper application (入会申请书) for a worker."""
        data = s.load(s.ApplicationSchema(), application, "application rejected")
        with self._changes() as uow:
            return s.MembershipOut().dump(ops.apply(uow, self.keys, data, caller, "staff"))

    @rpc
    def approve(self, membership_id, caller):
        with self._changes() as uow:
            membership = ops.approve(uow, self.keys, _id(membership_id, "membership_id"),
                                     caller)
        return s.MembershipOut().dump(membership)

    @rpc
    def reject(self, membership_id, body, caller):
        return self._end(membership_id, "reject", body, caller)

    @rpc
    def lapse(self, membership_id, body, caller):
        return self._end(membership_id, "lapse", body, caller)

    @rpc
    def leave(self, membership_id, body, caller):
        return self._end(membership_id, "leave", body, caller)

    def _end(self, membership_id, action, body, caller):
        reason = s.load(s.ReasonSchema(), body)["reason"]
        with self._changes() as uow:
            return s.MembershipOut().dump(
                ops.end(uow, _id(membership_id, "membership_id"), action, reason, caller))

    @rpc
    def transfer(self, membership_id, body, caller):
        target = s.load(s.TransferSchema(), body)["enterprise_credit_code"]
        with self._changes() as uow:
            return s.MembershipOut().dump(
                ops.transfer(uow, _id(membership_id, "membership_id"), target, caller))

    @rpc
    def member(self, worker_id, caller):
        with self.db.session() as session:
            return s.MemberOut().dump(
                ops.member(session, self.keys, _id(worker_id, "worker_id"), caller))

    @rpc
    def personal_data(self, worker_id, caller):
        with self.db.session() as session:
            return s.PersonalDataOut().dump(
                ops.personal_data(session, self.keys, _id(worker_id, "worker_id"), caller))

    @rpc
    def list_members(self, query, caller):
        q = s.load(s.MemberListQuery(), query, "query parameters rejected")
        with self.db.session() as session:
            return s.MemberListOut().dump(ops.list_members(
                session, caller, q["code"], q["status"], q["after_id"], q["limit"]))

    # --- cards and merchants -------------------------------------------------------

    @rpc
    def request_card(self, worker_id, body, caller):
        lost = s.load(s.CardRequestSchema(), body or {})["lost"]
        with self._changes() as uow:
            return s.CardOut().dump(
                ops.request_card(uow, self.keys, _id(worker_id, "worker_id"), lost, caller))

    @rpc
    def check_card(self, body, caller):
        """For merchants: valid, expired or unknown, and nothing else. ``caller`` is the
        gateway user ({"id", ...}); past its card-check limit a TooManyRequests (429)."""
        number = s.load(s.CardCheckSchema(), body)["card_number"]
        with self._card_check(caller) as session:
            return {"card": ops.card_verdict(session, self.keys, number)}

    @rpc
    def register_merchant(self, body, caller):
        data = s.load(s.MerchantSchema(), body, "merchant rejected")
        with self._changes() as uow:
            return ops.register_merchant(uow, data, caller)

    @rpc
    def merchants(self, code=None):
        with self.db.session() as session:
            return ops.list_merchants(session, code)

    @rpc
    def check_purchase(self, merchant_id, body, caller):
        """The price a card holder pays; it tells valid / expired / unknown too, so it counts
        against the same card-check limit as ``check_card``."""
        data = s.load(s.PurchaseSchema(), body, "purchase rejected")
        with self._card_check(caller) as session:
            return ops.check_purchase(session, self.keys, _id(merchant_id, "merchant_id"),
                                      data["card_number"], data["price_fen"], data["cost_fen"])

    @contextmanager
    def _card_check(self, caller):
        """A session whose work is ``caller``'s card check: counted first (a 429 past the
        limit), committed with the answer."""
        hits, window = self.limits["card_check"]
        with self.db.unit_of_work() as uow:
            ops.count_card_check(uow.session, _caller_id(caller), hits, window)
            yield uow.session

    @timer(interval=3600)
    def purge_rate_hits(self):
        longest = max(window for _hits, window in self.limits.values())
        with self.db.unit_of_work() as uow:
            ops.purge_rate_hits(uow.session, longest)

    # --- member services -------------------------------------------------------------

    @rpc
    def submit_service_request(self, body, caller):
        data = s.load(s.ServiceRequestSchema(), body, "service request rejected")
        with self._changes() as uow:
            return s.ServiceRequestOut().dump(ops.submit_request(uow, data, caller))

    @rpc
    def update_service_request(self, request_id, body, caller):
        data = s.load(s.ServiceRequestUpdateSchema(), body, "update rejected")
        with self._changes() as uow:
            return s.ServiceRequestOut().dump(
                ops.update_request(uow, _id(request_id, "request_id"), data, caller))

    @rpc
    def service_request(self, request_id, caller):
        with self.db.session() as session:
            return s.ServiceRequestOut().dump(
                ops.get_request(session, _id(request_id, "request_id"), caller))

    @rpc
    def service_requests(self, query, caller):
        """``{items, next_after_id}``: a page of the requests ``query["code"]`` handles, by
        id; send ``next_after_id`` back as ``after_id`` for the next page."""
        q = s.load(s.RequestListQuery(), query, "query parameters rejected")
        with self.db.session() as session:
            return s.ServiceRequestPageOut().dump(ops.list_requests(
                session, caller, q["code"], q["status"], q["kind"], q["after_id"],
                q["limit"]))

    # --- join rates --------------------------------------------------------------------

    @rpc
    def join_rate(self, code):
        """Members / workers for an organization's subtree (or one enterprise). A read
        outside a transaction: no BEGIN and ROLLBACK round trips around its one query."""
        with self.db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            return readmodel.join_rate(connection, str(code)).as_dict()

    @rpc
    def join_rates_below(self, code):
        with self.db.session() as session:
            return [rate.as_dict() for rate in readmodel.join_rates_below(session, str(code))]

    @timer(interval=2)
    def load_sample_when_ready(self):
        """Loads the 南坑 sample once asked (``gonghui up``) and the registry's data is in."""
        sample.load_if_ready(self.db, self.keys)

    # --- the registry's events -------------------------------------------------------

    @event_handler("registry", "organization_registered")
    def handle_organization_registered(self, event):
        self.db.apply_once(event, readmodel.apply_organization)

    @event_handler("registry", "organization_updated")
    def handle_organization_updated(self, event):
        self.db.apply_once(event, readmodel.apply_organization)

    @event_handler("registry", "organization_moved")
    def handle_organization_moved(self, event):
        self.db.apply_once(event, readmodel.apply_organization)

    @event_handler("registry", "enterprise_registered")
    def handle_enterprise_registered(self, event):
        self._apply_enterprise(event)

    @event_handler("registry", "enterprise_updated")
    def handle_enterprise_updated(self, event):
        self._apply_enterprise(event)

    @event_handler("registry", "enterprise_moved")
    def handle_enterprise_moved(self, event):
        """Its members' and workers' counters move with it to the new community."""
        self._apply_enterprise(event)

    @event_handler("registry", "enterprise_closed")
    def handle_enterprise_closed(self, event):
        """Memberships at a closed enterprise lapse, with the registry's reason."""
        self._apply_enterprise(event)

    def _apply_enterprise(self, event):
        with self.db.unit_of_work() as uow:
            if not uow.is_duplicate(event):
                ops.enterprise_snapshot(uow, event.data)
