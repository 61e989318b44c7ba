"""The membership service: entrypoints only. Rules live in ``domain``, use cases in
``operations``, reads in ``views``, the registry's data in ``readmodel``; the gateway's
HTTP routes call these RPC methods with
the authenticated caller ({"name", "role", "org_code"}).
"""

from contextlib import contextmanager
from pathlib import Path

from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from services.membership import domain, operations, readmodel, sample, schemas, views
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
    keys = PersonalDataKeys(domain.load_keys)  # MEMBERSHIP_PII_KEY: seals ID numbers and phones
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
        data = schemas.load(schemas.ApplicationSchema(), application, "application rejected")
        with self._changes() as uow:
            return schemas.MembershipOut().dump(
                operations.apply(uow, self.keys, data, None, "online"))

    @rpc
    def enter_application(self, application, caller):
        """Union staff enter a paper application (入会申请书) for a worker."""
        data = schemas.load(schemas.ApplicationSchema(), application, "application rejected")
        with self._changes() as uow:
            return schemas.MembershipOut().dump(
                operations.apply(uow, self.keys, data, caller, "staff"))

    @rpc
    def approve(self, membership_id, caller):
        with self._changes() as uow:
            membership = operations.approve(uow, self.keys, _id(membership_id, "membership_id"),
                                     caller)
        return schemas.MembershipOut().dump(membership)

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
        reason = schemas.load(schemas.ReasonSchema(), body)["reason"]
        with self._changes() as uow:
            return schemas.MembershipOut().dump(
                operations.end(uow, _id(membership_id, "membership_id"), action, reason, caller))

    @rpc
    def transfer(self, membership_id, body, caller):
        target = schemas.load(schemas.TransferSchema(), body)["enterprise_credit_code"]
        with self._changes() as uow:
            return schemas.MembershipOut().dump(
                operations.transfer(uow, _id(membership_id, "membership_id"), target, caller))

    @rpc
    def member(self, worker_id, caller):
        with self.db.session() as session:
            return schemas.MemberOut().dump(
                views.member(session, self.keys, _id(worker_id, "worker_id"), caller))

    @rpc
    def personal_data(self, worker_id, caller):
        with self.db.session() as session:
            return schemas.PersonalDataOut().dump(
                views.personal_data(session, self.keys, _id(worker_id, "worker_id"), caller))

    @rpc
    def list_members(self, query, caller):
        query = schemas.load(schemas.MemberListQuery(), query, "query parameters rejected")
        with self.db.session() as session:
            return schemas.MemberListOut().dump(views.list_members(
                session, caller, query["code"], query["status"], query["after_id"],
                query["limit"]))

    # --- cards and merchants -------------------------------------------------------

    @rpc
    def request_card(self, worker_id, body, caller):
        lost = schemas.load(schemas.CardRequestSchema(), body or {})["lost"]
        with self._changes() as uow:
            return schemas.CardOut().dump(
                operations.request_card(uow, self.keys, _id(worker_id, "worker_id"), lost, caller))

    @rpc
    def check_card(self, body, caller):
        """For merchants: valid, expired or unknown, and nothing else. ``caller`` is the
        gateway user ({"id", ...}); past its card-check limit a TooManyRequests (429)."""
        number = schemas.load(schemas.CardCheckSchema(), body)["card_number"]
        with self._card_check(caller) as session:
            return {"card": views.card_verdict(session, self.keys, number)}

    @rpc
    def register_merchant(self, body, caller):
        data = schemas.load(schemas.MerchantSchema(), body, "merchant rejected")
        with self._changes() as uow:
            return operations.register_merchant(uow, data, caller)

    @rpc
    def merchants(self, code=None):
        with self.db.session() as session:
            return views.list_merchants(session, code)

    @rpc
    def check_purchase(self, merchant_id, body, caller):
        """The price a card holder pays; it tells valid / expired / unknown too, so it counts
        against the same card-check limit as ``check_card``."""
        data = schemas.load(schemas.PurchaseSchema(), body, "purchase rejected")
        with self._card_check(caller) as session:
            return views.check_purchase(session, self.keys, _id(merchant_id, "merchant_id"),
                                      data["card_number"], data["price_fen"], data["cost_fen"])

    @contextmanager
    def _card_check(self, caller):
        """A session whose work is ``caller``'s card check: counted first (a 429 past the
        limit), committed with the answer."""
        hits, window = self.limits["card_check"]
        with self.db.unit_of_work() as uow:
            operations.count_card_check(uow.session, _caller_id(caller), hits, window)
            yield uow.session

    @timer(interval=3600)
    def purge_rate_hits(self):
        longest = max(window for _hits, window in self.limits.values())
        with self.db.unit_of_work() as uow:
            operations.purge_rate_hits(uow.session, longest)

    # --- member services -------------------------------------------------------------

    @rpc
    def submit_service_request(self, body, caller):
        data = schemas.load(schemas.ServiceRequestSchema(), body, "service request rejected")
        with self._changes() as uow:
            return schemas.ServiceRequestOut().dump(
                operations.submit_request(uow, data, caller))

    @rpc
    def update_service_request(self, request_id, body, caller):
        data = schemas.load(schemas.ServiceRequestUpdateSchema(), body, "update rejected")
        with self._changes() as uow:
            return schemas.ServiceRequestOut().dump(
                operations.update_request(uow, _id(request_id, "request_id"), data, caller))

    @rpc
    def service_request(self, request_id, caller):
        with self.db.session() as session:
            return schemas.ServiceRequestOut().dump(
                views.get_request(session, _id(request_id, "request_id"), caller))

    @rpc
    def service_requests(self, query, caller):
        """``{items, next_after_id}``: a page of the requests ``query["code"]`` handles, by
        id; send ``next_after_id`` back as ``after_id`` for the next page."""
        query = schemas.load(schemas.RequestListQuery(), query, "query parameters rejected")
        with self.db.session() as session:
            return schemas.ServiceRequestPageOut().dump(views.list_requests(
                session, caller, query["code"], query["status"], query["kind"],
                query["after_id"], query["limit"]))

    # --- join rates --------------------------------------------------------------------

    @rpc
    def join_rate(self, code):
        """Members / workers for an organization's subtree (or one enterprise). A read
        outside a transaction: no BEGIN and ROLLBACK round trips around its one query."""
        with self.db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            return views.join_rate(connection, str(code)).as_dict()

    @rpc
    def join_rates_below(self, code):
        with self.db.session() as session:
            return [rate.as_dict() for rate in views.join_rates_below(session, str(code))]

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
                operations.enterprise_snapshot(uow, event.data)
