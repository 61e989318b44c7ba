"""The disputes service: information officers' reports, cases, visits, rewards, statistics.

RPC (dicts in and out; ``actor`` is the staff user the gateway authenticated:
``{"user", "role": admin|staff|viewer, "organization_code"}``)::

    register_officer(data, caller) -> {informant, token}   token shown once
    revoke_officer(informant, caller)
    submit_report(data, officer_token=None, source=None)  anonymous without a token:
                                     -> {report, case_id, merged, receipt_code?}
    receipt_status(receipt_code, source=None)    an anonymous informant's view
    my_reports(officer_token), my_rewards(officer_token=None, receipt_code=None)
    get_case(case_id, caller), list_cases(caller, filters=None)
    change_status(case_id, status, data, caller)   verified|rejected|handling|resolved|closed
    record_visit(data, caller)
    reveal_identity(data, caller)                  audited; admin only
    list_rewards(caller, status=None), approve_reward(id, caller), pay_reward(id, caller)
    get_policies(kind), publish_policy(data, caller)
    statistics(caller, code=None, year=None)

Listens to the registry (organizations and enterprises, its read model) and to
notifications' ``case_acknowledged`` (a line in the case timeline).
"""

from datetime import datetime
from pathlib import Path

from eventlet import tpool
from nameko.timer import timer

from services.disputes import domain, operations, policy, readmodel, schemas, views
from shared.caller import Caller
from shared.consumers import event_handler
from shared.dependencies import Database, Metrics, PersonalDataKeys, RateLimits
from shared.errors import InvalidInput, Unauthorized
from shared.rpc import rpc
from shared.schemas import load
from shared.timeutil import now_utc
from shared.web import OpsEndpoints

MIGRATIONS = Path(__file__).parent / "migrations"
# (max hits, window seconds). Override with the DISPUTES_RATE_LIMITS config key (a dict
# like this one) or environment variable ("officer=30/3600,source=60/3600").
RATE_LIMITS = {"officer": (30, 3600), "source": (60, 3600), "lookup": (30, 3600)}


def _caller(data) -> Caller:
    """The staff user the gateway authenticated; without one nothing is shown."""
    if not data:
        raise Unauthorized("sign in: this needs a staff user's token")
    return Caller.from_dict(data)


class DisputesService(OpsEndpoints):
    name = "disputes"
    db = Database(MIGRATIONS)
    metrics = Metrics()
    keys = PersonalDataKeys(domain.load_keys)  # DISPUTES_PII_KEY: seals identities

    limits = RateLimits("DISPUTES_RATE_LIMITS", RATE_LIMITS)

    # --- informants ---------------------------------------------------------------------

    @rpc
    def register_officer(self, data, caller):
        caller = _caller(caller)
        officer = load(schemas.OfficerSchema(), data, "officer rejected")
        with self.db.unit_of_work() as uow:
            return operations.register_officer(uow, officer, caller, now_utc(),
                                               self.keys)

    @rpc
    def revoke_officer(self, informant, caller):
        caller = _caller(caller)
        with self.db.unit_of_work() as uow:
            return operations.revoke_officer(uow, informant, caller)

    @rpc
    def submit_report(self, data, officer_token=None, source=None, request_id=None,
                      receipt_code=None):
        """Filed once per ``request_id``: see ``operations.file_report``."""
        report = load(schemas.ReportSchema(), data, "report rejected")
        if request_id is not None and not (isinstance(request_id, str)
                                           and 8 <= len(request_id) <= 64):
            raise InvalidInput("a request id is a string of 8 to 64 characters",
                               {"request_id": ["8 to 64 characters"]})
        if receipt_code:
            receipt_code = domain.normalize_receipt(receipt_code)
        return operations.file_report(self.db, report, officer_token=officer_token,
                                      source=source, request_id=request_id,
                                      receipt_code=receipt_code, limits=self.limits,
                                      keys=self.keys, run_slow=tpool.execute)

    @rpc
    def receipt_status(self, receipt_code, source=None):
        code = domain.normalize_receipt(receipt_code)
        with self.db.unit_of_work() as uow:
            operations.count_receipt_lookup(uow, source, self.limits, now_utc())
        with self.db.session() as session:
            return views.receipt_status(session, code, tpool.execute)

    @rpc
    def my_reports(self, officer_token):
        with self.db.session() as session:
            officer = views.officer_by_token(session, officer_token)
            return views.officer_reports(session, officer.id)

    @rpc
    def my_rewards(self, officer_token=None, receipt_code=None):
        with self.db.session() as session:
            return views.my_rewards(session, officer_token, receipt_code, tpool.execute)

    @rpc
    def reveal_identity(self, data, caller):
        caller = _caller(caller)
        request = load(schemas.RevealSchema(), data, "reveal request rejected")
        with self.db.unit_of_work() as uow:
            return operations.reveal_identity(uow, request["informant"], request["reason"],
                                              caller, now_utc(), self.keys)

    # --- cases --------------------------------------------------------------------------

    @rpc
    def get_case(self, case_id, caller):
        caller = _caller(caller)
        with self.db.session() as session:
            return views.case_view(session, case_id, caller)

    @rpc
    def list_cases(self, caller, filters=None):
        caller = _caller(caller)
        filters = load(schemas.CaseFilterSchema(), filters or {}, "filters rejected")
        with self.db.session() as session:
            return views.list_cases(session, caller, filters)

    @rpc
    def change_status(self, case_id, status, data, caller):
        caller = _caller(caller)
        data = schemas.load_transition(status, data)
        with self.db.unit_of_work() as uow:
            return operations.change_status(uow, case_id, status, data, caller,
                                            now_utc())

    @rpc
    def record_visit(self, data, caller):
        caller = _caller(caller)
        visit = load(schemas.VisitSchema(), data, "visit rejected")
        with self.db.unit_of_work() as uow:
            return operations.record_visit(uow, visit, caller, now_utc())

    # --- rewards and policies -----------------------------------------------------------

    @rpc
    def list_rewards(self, caller, status=None):
        caller = _caller(caller)
        status = load(schemas.RewardFilterSchema(), {"status": status},
                              "filters rejected")["status"]
        with self.db.session() as session:
            return views.list_rewards(session, caller, status)

    @rpc
    def approve_reward(self, reward_id, caller):
        caller = _caller(caller)
        with self.db.unit_of_work() as uow:
            return operations.approve_reward(uow, schemas.reward_id(reward_id), caller,
                                             now_utc())

    @rpc
    def pay_reward(self, reward_id, caller):
        caller = _caller(caller)
        with self.db.unit_of_work() as uow:
            return operations.pay_reward(uow, schemas.reward_id(reward_id), caller,
                                         now_utc())

    @rpc
    def get_policies(self, kind):
        if kind not in policy.KINDS:
            raise InvalidInput(f"no policy kind {kind!r}",
                               {"kind": [f"must be one of {', '.join(policy.KINDS)}"]})
        with self.db.session() as session:
            return views.list_policies(session, kind)

    @rpc
    def publish_policy(self, data, caller):
        caller = _caller(caller)
        request = load(schemas.PolicySchema(), data, "policy rejected")
        with self.db.unit_of_work() as uow:
            return operations.publish_policy(uow, request["kind"], request["body"],
                                             request["effective_from"], caller,
                                             now_utc())

    @rpc
    def statistics(self, caller, code=None, year=None):
        caller = _caller(caller)
        query = load(schemas.StatisticsQuerySchema(), {"code": code, "year": year},
                             "statistics query rejected")
        with self.db.session() as session:
            return views.statistics_for(session, caller, query["code"], query["year"])

    @timer(interval=3600)
    def purge_rate_hits(self):
        with self.db.unit_of_work() as uow:
            operations.purge_rate_hits(uow, now_utc())

    # --- the registry's read model ------------------------------------------------------

    def _apply(self, event, apply):
        self.db.apply_once(event, apply, datetime.fromisoformat(event.time))

    @event_handler("registry", "organization_registered")
    def handle_organization_registered(self, event):
        self._apply(event, readmodel.registry.apply_organization)

    @event_handler("registry", "organization_updated")
    def handle_organization_updated(self, event):
        self._apply(event, readmodel.registry.apply_organization)

    @event_handler("registry", "organization_moved")
    def handle_organization_moved(self, event):
        self._apply(event, readmodel.registry.apply_organization)

    @event_handler("registry", "enterprise_registered")
    def handle_enterprise_registered(self, event):
        self._apply(event, readmodel.registry.apply_enterprise)

    @event_handler("registry", "enterprise_updated")
    def handle_enterprise_updated(self, event):
        self._apply(event, readmodel.registry.apply_enterprise)

    @event_handler("registry", "enterprise_moved")
    def handle_enterprise_moved(self, event):
        self._apply(event, readmodel.registry.apply_enterprise)

    @event_handler("registry", "enterprise_closed")
    def handle_enterprise_closed(self, event):
        self._apply(event, readmodel.registry.apply_enterprise)

    @event_handler("notifications", "case_acknowledged")
    def handle_case_acknowledged(self, event):
        self.db.apply_once(event, readmodel.apply_acknowledgement)
