"""The membership service: entrypoints only.

Each RPC method loads its arguments with the contract in ``shared/api/membership.py``
(the one place input is checked: the caller with ``Caller.from_dict``, ids with ``_id``),
calls one use case (``operations``) or read (``views``), and dumps the answer with the
contract's output schema. Rules live in ``domain``, the registry's data and the join-rate
counters in ``readmodel``. The gateway's HTTP routes call these methods with the
authenticated caller (``shared.caller``: ``{"name", "role", "organization_code"}``).
"""

from contextlib import contextmanager
from pathlib import Path

from nameko.timer import timer
from sqlalchemy.exc import IntegrityError

from services.membership import domain, operations, readmodel, sample, views
from shared import idempotency
from shared.api import membership
from shared.caller import Caller
from shared.consumers import event_handler
from shared.dependencies import Database, Metrics, PersonalDataKeys, RateLimits
from shared.errors import Conflict, InvalidInput
from shared.registry_events import RegistryEventHandlers, event_time
from shared.rpc import rpc
from shared.schemas import load
from shared.web import OpsEndpoints

MIGRATIONS = Path(__file__).parent / "migrations"


def _id(value, name: str) -> int:
    highest = membership.MAX_ID
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
        raise InvalidInput(f"{name} must be a whole number from 1 to {highest}",
                           {name: [repr(value)[:40]]})
    return value


def _code(value) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= membership.CODE_MAX_LENGTH:
        raise InvalidInput(f"code must be 1 to {membership.CODE_MAX_LENGTH} characters",
                           {"code": [repr(value)[:40]]})
    return value


class MembershipService(RegistryEventHandlers, OpsEndpoints, idempotency.IdempotencyKeys):
    name = "membership"
    db = Database(MIGRATIONS)
    metrics = Metrics()
    keys = PersonalDataKeys(domain.load_keys)  # MEMBERSHIP_PII_KEY: seals ID numbers and phones
    limits = RateLimits("MEMBERSHIP_RATE_LIMITS", membership.RATE_LIMITS)

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
    def apply_online(self, application, idempotency=None):
        """A worker applies on the 智慧工建 platform (no staff involved); once per
        ``idempotency`` key (``shared.idempotency``)."""
        data = load(membership.ApplicationSchema(), application, "application rejected")
        return self._once(idempotency, lambda uow: membership.MembershipOut().dump(
            operations.apply(uow, self.keys, data, None, "online")))

    @rpc
    def enter_application(self, application, caller, idempotency=None):
        """Union staff enter a paper application (入会申请书) for a worker."""
        caller = Caller.from_dict(caller)
        data = load(membership.ApplicationSchema(), application, "application rejected")
        return self._once(idempotency, lambda uow: membership.MembershipOut().dump(
            operations.apply(uow, self.keys, data, caller, "staff")))

    @rpc
    def approve(self, membership_id, caller):
        caller = Caller.from_dict(caller)
        membership_id = _id(membership_id, "membership_id")
        with self._changes() as uow:
            approved = operations.approve(uow, self.keys, membership_id, caller)
        return membership.MembershipOut().dump(approved)

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
        caller = Caller.from_dict(caller)
        membership_id = _id(membership_id, "membership_id")
        reason = load(membership.ReasonSchema(), body)["reason"]
        with self._changes() as uow:
            return membership.MembershipOut().dump(
                operations.end(uow, membership_id, action, reason, caller))

    @rpc
    def transfer(self, membership_id, body, caller):
        caller = Caller.from_dict(caller)
        membership_id = _id(membership_id, "membership_id")
        target = load(membership.TransferSchema(), body)["enterprise_credit_code"]
        with self._changes() as uow:
            return membership.MembershipOut().dump(
                operations.transfer(uow, membership_id, target, caller))

    @rpc
    def member(self, worker_id, caller):
        caller = Caller.from_dict(caller)
        worker_id = _id(worker_id, "worker_id")
        with self.db.session() as session:
            return membership.MemberOut().dump(
                views.member(session, self.keys, worker_id, caller))

    @rpc
    def personal_data(self, worker_id, caller):
        caller = Caller.from_dict(caller)
        worker_id = _id(worker_id, "worker_id")
        with self.db.session() as session:
            return membership.PersonalDataOut().dump(
                views.personal_data(session, self.keys, worker_id, caller))

    @rpc
    def list_members(self, query, caller):
        """A page of the memberships in ``query["code"]``'s subtree, oldest first."""
        caller = Caller.from_dict(caller)
        query = load(membership.MemberListQuery(), query, "query parameters rejected")
        with self.db.session() as session:
            return membership.MemberPageOut().dump(views.list_members(
                session, caller, query["code"], query["status"], query["cursor"],
                query["limit"]))

    # --- cards and merchants -------------------------------------------------------

    @rpc
    def request_card(self, worker_id, body, caller):
        caller = Caller.from_dict(caller)
        worker_id = _id(worker_id, "worker_id")
        lost = load(membership.CardRequestSchema(), body or {})["lost"]
        with self._changes() as uow:
            return membership.CardOut().dump(
                operations.request_card(uow, self.keys, worker_id, lost, caller))

    @rpc
    def check_card(self, body, caller):
        """For merchants: valid, expired or unknown, and nothing else. Past the caller's
        card-check limit a TooManyRequests (429)."""
        caller = Caller.from_dict(caller)
        number = load(membership.CardCheckSchema(), body)["card_number"]
        with self._card_check(caller) as session:
            verdict = views.card_verdict(session, self.keys, number)
            return membership.CardVerdictOut().dump({"card": verdict})

    @rpc
    def register_merchant(self, body, caller):
        caller = Caller.from_dict(caller)
        data = load(membership.MerchantSchema(), body, "merchant rejected")
        with self._changes() as uow:
            return membership.MerchantOut().dump(
                operations.register_merchant(uow, data, caller))

    @rpc
    def merchants(self, query=None):
        """A page of partner merchants, inside ``query["code"]``'s subtree if given."""
        query = load(membership.MerchantListQuery(), query or {}, "query parameters rejected")
        with self.db.session() as session:
            return membership.MerchantPageOut().dump(views.list_merchants(
                session, query["code"], query["cursor"], query["limit"]))

    @rpc
    def check_purchase(self, merchant_id, body, caller):
        """The price a card holder pays; it tells valid / expired / unknown too, so it counts
        against the same card-check limit as ``check_card``."""
        caller = Caller.from_dict(caller)
        merchant_id = _id(merchant_id, "merchant_id")
        data = load(membership.PurchaseSchema(), body, "purchase rejected")
        with self._card_check(caller) as session:
            return membership.PurchaseOut().dump(views.check_purchase(
                session, self.keys, merchant_id, data["card_number"], data["price_fen"],
                data["cost_fen"]))

    @contextmanager
    def _card_check(self, caller: Caller):
        """A session whose work is ``caller``'s card check: counted first (a 429 past the
        limit), committed with the answer."""
        hits, window = self.limits["card_check"]
        with self.db.unit_of_work() as uow:
            operations.count_card_check(uow.session, caller, hits, window)
            yield uow.session

    @timer(interval=3600)
    def purge_rate_hits(self):
        longest = max(window for _hits, window in self.limits.values())
        with self.db.unit_of_work() as uow:
            operations.purge_rate_hits(uow.session, longest)

    # --- member services -------------------------------------------------------------

    @rpc
    def submit_service_request(self, body, caller, idempotency=None):
        caller = Caller.from_dict(caller)
        data = load(membership.ServiceRequestSchema(), body, "service request rejected")
        return self._once(idempotency, lambda uow: membership.ServiceRequestOut().dump(
            operations.submit_request(uow, data, caller)))

    @rpc
    def update_service_request(self, request_id, body, caller):
        caller = Caller.from_dict(caller)
        request_id = _id(request_id, "request_id")
        data = load(membership.ServiceRequestUpdateSchema(), body, "update rejected")
        with self._changes() as uow:
            return membership.ServiceRequestOut().dump(
                operations.update_request(uow, request_id, data, caller))

    @rpc
    def service_request(self, request_id, caller):
        caller = Caller.from_dict(caller)
        request_id = _id(request_id, "request_id")
        with self.db.session() as session:
            return membership.ServiceRequestOut().dump(
                views.get_request(session, request_id, caller))

    @rpc
    def service_requests(self, query, caller):
        """A page of the requests ``query["code"]`` handles, oldest first."""
        caller = Caller.from_dict(caller)
        query = load(membership.RequestListQuery(), query, "query parameters rejected")
        with self.db.session() as session:
            return membership.ServiceRequestPageOut().dump(views.list_requests(
                session, caller, query["code"], query["status"], query["kind"],
                query["cursor"], query["limit"]))

    # --- join rates --------------------------------------------------------------------

    @rpc
    def join_rate(self, code):
        """Members / workers for an organization's subtree (or one enterprise). A read
        outside a transaction: no BEGIN and ROLLBACK round trips around its one query."""
        code = _code(code)
        with self.db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            return membership.JoinRateOut().dump(views.join_rate(connection, code).as_dict())

    @rpc
    def cards_held(self, code):
        """Active member cards in an organization's subtree (南坑's pilot: 500)."""
        code = _code(code)
        with self.db.session() as session:
            return membership.CardsHeldOut().dump(views.cards_held(session, code))

    @rpc
    def join_rates_below(self, code, query=None):
        """A page of the join rates of the organizations directly below ``code``."""
        code = _code(code)
        query = load(membership.JoinRateListQuery(), query or {}, "query parameters rejected")
        with self.db.session() as session:
            return membership.JoinRatePageOut().dump(views.join_rates_below(
                session, code, query["cursor"], query["limit"]))

    @timer(interval=2)
    def load_sample_when_ready(self):
        """Loads the 南坑 sample once asked (``gonghui up``) and the registry's data is in."""
        sample.load_if_ready(self.db, self.keys)

    # --- the registry's events -------------------------------------------------------
    #
    # Snapshots come in any order (one queue per type): each carries its time, and one
    # older than what the read model holds changes nothing.

    registry_readmodel = readmodel  # organizations: a move takes its counters along

    def apply_registry_enterprise(self, event):
        """An enterprise's members' and workers' counters follow it (a move, a new
        headcount); memberships at a closed enterprise lapse, with the registry's reason."""
        with self.db.unit_of_work() as uow:
            if not uow.is_duplicate(event):
                operations.enterprise_snapshot(uow, event.data, event_time(event))

    def apply_registry_enterprise_batch(self, event):
        with self.db.unit_of_work() as uow:
            if not uow.is_duplicate(event):
                operations.enterprise_snapshots(uow, event.data["enterprises"],
                                                event_time(event))

    # --- incubation's referrals of service requests (shown on the request) ------------

    @event_handler("incubation", "request_referred")
    def handle_request_referred(self, event):
        self.db.apply_once(event, readmodel.apply_referral, event_time(event))

    @event_handler("incubation", "referral_concluded")
    def handle_referral_concluded(self, event):
        self.db.apply_once(event, readmodel.apply_referral, event_time(event))
