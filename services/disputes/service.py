"""The disputes service: information officers' reports, cases, visits, rewards, statistics.

Its RPC methods and what they take and answer are the contract in
``shared/api/disputes.py``: each entrypoint here loads its arguments with the contract's
schemas (the one place input is checked), calls one use case (``operations``) or read
(``views``) and dumps what that answers with the contract's schema.

Listens to the registry (organizations and enterprises, its read model) and to
notifications' ``case_acknowledged`` (a line in the case timeline).
"""

from pathlib import Path

from eventlet import tpool
from nameko.timer import timer

from services.disputes import domain, operations, readmodel, sample, views
from shared import idempotency
from shared.api import disputes as contract
from shared.caller import Caller, signed_in
from shared.consumers import event_handler
from shared.dependencies import Database, Metrics, PersonalDataKeys, RateLimits
from shared.paging import CursorQuery
from shared.registry_events import RegistryEventHandlers
from shared.rpc import rpc
from shared.schemas import load
from shared.timeutil import now_utc
from shared.web import OpsEndpoints

MIGRATIONS = Path(__file__).parent / "migrations"
# (max hits, window seconds). Override with the DISPUTES_RATE_LIMITS config key (a dict
# like this one) or environment variable ("officer=30/3600,source=60/3600").
RATE_LIMITS = {"officer": (30, 3600), "source": (60, 3600), "lookup": (30, 3600)}

# Made once: a report is the hot path, and a schema is the same for every call.
REPORT = contract.SubmittedReportSchema()
SUBMISSION = contract.SubmissionSchema()
REPORT_FILED = contract.ReportFiledSchema()
ALREADY_RECEIVED = contract.AlreadyReceivedSchema()


def _caller(data) -> Caller:
    """The staff user the gateway authenticated; without one nothing is shown."""
    return signed_in(data, "a staff user's token")


class DisputesService(RegistryEventHandlers, OpsEndpoints, idempotency.IdempotencyKeys):
    name = "disputes"
    db = Database(MIGRATIONS, gauges=[views.measure_open_cases])
    metrics = Metrics()
    keys = PersonalDataKeys(domain.load_keys)  # DISPUTES_PII_KEY: seals identities

    limits = RateLimits("DISPUTES_RATE_LIMITS", RATE_LIMITS)

    # --- informants ---------------------------------------------------------------------

    @rpc
    def register_officer(self, data, caller):
        caller = _caller(caller)
        officer = load(contract.SealedOfficerSchema(), data, "officer rejected")
        with self.db.unit_of_work() as uow:
            registered = operations.register_officer(uow, officer, caller, now_utc(),
                                                     self.keys)
        return contract.RegisteredOfficerSchema().dump(registered)

    @rpc
    def revoke_officer(self, informant, caller):
        caller = _caller(caller)
        informant = load(contract.InformantRefSchema(), {"informant": informant})["informant"]
        with self.db.unit_of_work() as uow:
            revoked = operations.revoke_officer(uow, informant, caller)
        return contract.RevokedOfficerSchema().dump(revoked)

    @rpc
    def submit_report(self, data, officer_token_hash=None, source=None, request_id=None,
                      receipt_ref=None, idempotency=None, resubmission=None):
        """Filed once per ``request_id`` and per ``idempotency`` key; an anonymous report
        sent again soon (``resubmission``) is not filed twice: see
        ``operations.file_report``."""
        report = load(REPORT, data, "report rejected")
        how = load(SUBMISSION, {"officer_token_hash": officer_token_hash, "source": source,
                                "request_id": request_id, "receipt_ref": receipt_ref,
                                "idempotency": idempotency, "resubmission": resubmission},
                   "report rejected")
        idempotency_ref = how.pop("idempotency")
        return operations.file_report(
            self.db, report, **how, idempotency_ref=idempotency_ref, limits=self.limits,
            keys=self.keys, dump=self._filed, run_slow=tpool.execute)

    @staticmethod
    def _filed(filed):
        return (ALREADY_RECEIVED if "already_received" in filed else REPORT_FILED).dump(filed)

    @rpc
    def receipt_status(self, receipt_ref, source=None):
        lookup = load(contract.ReceiptLookupSchema(),
                      {"receipt_ref": receipt_ref, "source": source}, "lookup rejected")
        with self.db.unit_of_work() as uow:
            operations.count_receipt_lookup(uow, lookup["source"], self.limits, now_utc())
        with self.db.session() as session:
            status = views.receipt_status(session, lookup["receipt_ref"], tpool.execute)
        return contract.ReceiptStatusSchema().dump(status)

    @rpc
    def my_reports(self, officer_token_hash, query=None):
        page = load(CursorQuery(), query or {}, "page rejected")
        with self.db.session() as session:
            officer = views.officer_by_token(session, officer_token_hash)
            mine = views.officer_reports(session, officer.id, page["cursor"], page["limit"])
        return contract.OfficerReportPageSchema().dump(mine)

    @rpc
    def my_rewards(self, officer_token_hash=None, receipt_ref=None, query=None):
        whose = load(contract.MyRewardsSchema(), {"officer_token_hash": officer_token_hash,
                                                  "receipt_ref": receipt_ref})
        page = load(CursorQuery(), query or {}, "page rejected")
        with self.db.session() as session:
            mine = views.my_rewards(session, page["cursor"], page["limit"], **whose,
                                    run=tpool.execute)
        return contract.RewardPageSchema().dump(mine)

    @rpc
    def reveal_identity(self, data, caller):
        caller = _caller(caller)
        request = load(contract.RevealSchema(), data, "reveal request rejected")
        with self.db.unit_of_work() as uow:
            revealed = operations.reveal_identity(uow, request["informant"],
                                                  request["reason"], caller, now_utc(),
                                                  self.keys)
        return contract.RevealedIdentitySchema().dump(revealed)

    # --- cases --------------------------------------------------------------------------

    @rpc
    def get_case(self, case_id, caller):
        caller = _caller(caller)
        case_id = load(contract.CaseRefSchema(), {"case_id": case_id})["case_id"]
        with self.db.session() as session:
            case = views.case_view(session, case_id, caller)
        return contract.CaseDetailSchema().dump(case)

    @rpc
    def list_cases(self, caller, query=None):
        caller = _caller(caller)
        query = load(contract.CaseQuerySchema(), query or {}, "filters rejected")
        with self.db.session() as session:
            found = views.list_cases(session, caller, query)
        return contract.CasePageSchema().dump(found)

    @rpc
    def change_status(self, case_id, status, data, caller):
        caller = _caller(caller)
        case_id = load(contract.CaseRefSchema(), {"case_id": case_id})["case_id"]
        status = load(contract.StepTargetSchema(), {"status": status})["status"]
        step = load(contract.TRANSITION_SCHEMAS[status](), data or {}, f"{status} rejected")
        with self.db.unit_of_work() as uow:
            case = operations.change_status(uow, case_id, status, step, caller, now_utc())
        return contract.CaseDetailSchema().dump(case)

    @rpc
    def record_visit(self, data, caller):
        caller = _caller(caller)
        visit = load(contract.VisitSchema(), data, "visit rejected")
        with self.db.unit_of_work() as uow:
            recorded = operations.record_visit(uow, visit, caller, now_utc())
        return contract.VisitRecordedSchema().dump(recorded)

    # --- rewards and policies -----------------------------------------------------------

    @rpc
    def list_rewards(self, caller, query=None):
        caller = _caller(caller)
        query = load(contract.RewardQuerySchema(), query or {}, "filters rejected")
        with self.db.session() as session:
            found = views.list_rewards(session, caller, query)
        return contract.RewardPageSchema().dump(found)

    @rpc
    def approve_reward(self, reward_id, caller):
        caller = _caller(caller)
        reward_id = load(contract.RewardRefSchema(), {"reward_id": reward_id})["reward_id"]
        with self.db.unit_of_work() as uow:
            reward = operations.approve_reward(uow, reward_id, caller, now_utc())
        return contract.RewardSchema().dump(reward)

    @rpc
    def pay_reward(self, reward_id, caller):
        caller = _caller(caller)
        reward_id = load(contract.RewardRefSchema(), {"reward_id": reward_id})["reward_id"]
        with self.db.unit_of_work() as uow:
            reward = operations.pay_reward(uow, reward_id, caller, now_utc())
        return contract.RewardSchema().dump(reward)

    @rpc
    def get_policies(self, kind, query=None):
        kind = load(contract.PolicyKindSchema(), {"kind": kind})["kind"]
        page = load(CursorQuery(), query or {}, "page rejected")
        with self.db.session() as session:
            versions = views.list_policies(session, kind, page["cursor"], page["limit"])
        return contract.PolicyPageSchema().dump(versions)

    @rpc
    def publish_policy(self, data, caller):
        caller = _caller(caller)
        request = load(contract.PolicyInSchema(), data, "policy rejected")
        with self.db.unit_of_work() as uow:
            published = operations.publish_policy(uow, request["kind"], request["body"],
                                                  request["effective_from"], caller,
                                                  now_utc())
        return contract.PolicyPublishedSchema().dump(published)

    @rpc
    def statistics(self, caller, code=None, year=None):
        caller = _caller(caller)
        query = load(contract.StatisticsQuerySchema(), {"code": code, "year": year},
                     "statistics query rejected")
        with self.db.session() as session:
            figures = views.statistics_for(session, caller, query["code"], query["year"])
        return contract.DisputeStatisticsSchema().dump(figures)

    @timer(interval=3600)
    def purge_rate_hits(self):
        with self.db.unit_of_work() as uow:
            operations.purge_rate_hits(uow, now_utc())

    @timer(interval=2)
    def load_sample_when_ready(self):
        """Loads the sample a few seconds at a time once asked (``gonghui up``) and the
        registry's district is in."""
        sample.load_if_ready(self.db)

    # --- the registry's read model ------------------------------------------------------

    registry_readmodel = readmodel.registry  # the handlers: RegistryEventHandlers

    def on_registry_change(self, uow, kind, change):
        if kind == "organization":
            readmodel.forget_communities()

    @event_handler("notifications", "case_acknowledged")
    def handle_case_acknowledged(self, event):
        self.db.apply_once(event, readmodel.apply_acknowledgement)
