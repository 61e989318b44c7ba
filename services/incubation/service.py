"""The incubation service: the hub federation's social organizations from application to
graduation (出壳), their grades, funds, purchased services, activities and referrals.

RPC only (the gateway serves HTTP). Every method loads its arguments with the contract in
``shared/api/incubation.py`` and answers what the contract dumps; ``caller`` is the
authenticated caller (``shared.caller``: ``{name, role, organization_code}``), an
organization's own account being ``so:<id>``. Errors are ``shared.errors``: 400 input,
403 who may, 404 the subject, 409 a rule or state (``details.rule`` names the rule).

Listens to the registry (places), to membership (members, to link beneficiaries; service
requests, to refer them). A timer raises incubation-deadline reminders and lapses grades;
another loads the sample once the registry's places have arrived (``gonghui up``).
"""

from pathlib import Path

import eventlet
from marshmallow import Schema
from nameko.timer import timer

from services.incubation import operations, policy, readmodel, sample, views
from services.incubation.domain import today_in
from shared import idempotency
from shared.api import incubation as api
from shared.caller import Caller
from shared.consumers import event_handler
from shared.dependencies import Database, Metrics
from shared.membership_events import MembershipEventHandlers
from shared.registry_events import RegistryEventHandlers, event_time
from shared.rpc import rpc
from shared.schemas import load
from shared.timeutil import now_utc
from shared.web import OpsEndpoints

MIGRATIONS = Path(__file__).parent / "migrations"
policy.documents()  # a bad policy file stops the service here, not on a request

ORGANIZATION = api.SocialOrganizationOut()
ASSESSMENT = api.AssessmentOut()
FUND = api.FundOut()
CALL = api.CallOut()
APPLICATION = api.ApplicationOut()
AWARD = api.AwardOut()
REPORT = api.ProgressReportOut()
LEDGER = api.LedgerOut()
CONTRACT = api.ContractOut()
ACTIVITY = api.ActivityOut()
STATISTICS = api.StatisticsOut()
REFERRAL = api.ReferralOut()
CANDIDATES = api.CandidatesOut()

_ID_SCHEMAS = {}


def _id(value, name: str) -> int:
    """A whole-number id argument, loaded by the contract's ``identifier`` field."""
    if name not in _ID_SCHEMAS:
        _ID_SCHEMAS[name] = Schema.from_dict({name: api.identifier(required=True)})()
    return load(_ID_SCHEMAS[name], {name: value}, f"{name} rejected")[name]


class IncubationService(RegistryEventHandlers, MembershipEventHandlers, OpsEndpoints,
                        idempotency.IdempotencyKeys):
    """The registry's places arrive through ``RegistryEventHandlers`` (``readmodel``: a
    moved place takes the organizations based there along; a closed enterprise hosts no
    new activity); members through ``MembershipEventHandlers``, to link beneficiaries."""

    name = "incubation"
    db = Database(MIGRATIONS)
    metrics = Metrics()
    registry_readmodel = readmodel
    membership_readmodel = readmodel.memberships

    def on_registry_change(self, uow, kind, change):
        operations.follow_registry_move(uow, kind, change)

    def _write(self, answer, operation, caller, *args, idempotency_ref=None):
        """One use case in a unit of work, for the caller; its result dumped by ``answer``
        (the contract's output schema). Once per Idempotency-Key ``idempotency_ref``
        (``shared.idempotency``); a race lost on a unique rule is a 409."""
        caller = Caller.from_dict(caller)
        return idempotency.once(self.db, idempotency.load_ref(idempotency_ref),
                                lambda uow: answer.dump(operation(uow, *args, caller)))

    def _read(self, answer, view, caller, *args):
        """One read in a session, for the caller, dumped by ``answer``."""
        caller = Caller.from_dict(caller)
        with self.db.session() as session:
            return answer.dump(view(session, *args, caller))

    # --- organizations -------------------------------------------------------------------

    @rpc
    def add_organization(self, data, caller):
        return self._write(ORGANIZATION, operations.add_organization, caller,
                           load(api.NewSocialOrganizationSchema(), data, "organization rejected"))

    @rpc
    def get_organization(self, organization_id, caller):
        return self._read(ORGANIZATION, views.get_organization, caller,
                          _id(organization_id, "organization_id"))

    @rpc
    def list_organizations(self, query, caller):
        return self._read(api.SocialOrganizationPageOut(), views.list_organizations, caller,
                          load(api.SocialOrganizationListQuery(), query, "query rejected"))

    @rpc
    def update_organization(self, organization_id, changes, caller):
        return self._write(ORGANIZATION, operations.update_organization, caller,
                           _id(organization_id, "organization_id"),
                           load(api.SocialOrganizationChangesSchema(), changes,
                                "changes rejected"))

    @rpc
    def change_stage(self, organization_id, data, caller):
        return self._write(ORGANIZATION, operations.change_stage, caller,
                           _id(organization_id, "organization_id"),
                           load(api.TransitionSchema(), data, "stage change rejected"))

    @rpc
    def record_assessment(self, organization_id, data, caller):
        return self._write(ASSESSMENT, operations.record_assessment, caller,
                           _id(organization_id, "organization_id"),
                           load(api.AssessmentInSchema(), data, "assessment rejected"))

    @rpc
    def list_assessments(self, organization_id, query, caller):
        return self._read(api.AssessmentPageOut(), views.list_assessments, caller,
                          _id(organization_id, "organization_id"),
                          load(api.CursorQuery(), query, "query rejected"))

    @rpc
    def policies(self, query=None):
        query = load(api.CursorQuery(), query or {}, "query rejected")
        return api.PolicyPageOut().dump(views.policies(query))

    # --- funds ---------------------------------------------------------------------------

    @rpc
    def create_fund(self, data, caller, idempotency=None):
        return self._write(FUND, operations.create_fund, caller,
                           load(api.NewFundSchema(), data, "fund rejected"),
                           idempotency_ref=idempotency)

    @rpc
    def get_fund(self, fund_id, caller):
        return self._read(FUND, views.get_fund, caller, _id(fund_id, "fund_id"))

    @rpc
    def list_funds(self, query, caller):
        return self._read(api.FundPageOut(), views.list_funds, caller,
                          load(api.FundListQuery(), query, "query rejected"))

    @rpc
    def fund_ledger(self, fund_id, caller):
        return self._read(LEDGER, views.fund_ledger, caller, _id(fund_id, "fund_id"))

    @rpc
    def open_call(self, fund_id, data, caller):
        return self._write(CALL, operations.open_call, caller, _id(fund_id, "fund_id"),
                           load(api.NewCallSchema(), data, "call rejected"))

    @rpc
    def get_call(self, call_id, caller):
        return self._read(CALL, views.get_call, caller, _id(call_id, "call_id"))

    @rpc
    def list_calls(self, query, caller):
        return self._read(api.CallPageOut(), views.list_calls, caller,
                          load(api.CallListQuery(), query, "query rejected"))

    @rpc
    def apply_to_call(self, call_id, data, caller):
        return self._write(APPLICATION, operations.apply_to_call, caller,
                           _id(call_id, "call_id"),
                           load(api.NewApplicationSchema(), data, "application rejected"))

    @rpc
    def get_application(self, application_id, caller):
        return self._read(APPLICATION, views.get_application, caller,
                          _id(application_id, "application_id"))

    @rpc
    def list_applications(self, query, caller):
        return self._read(api.ApplicationPageOut(), views.list_applications, caller,
                          load(api.ApplicationListQuery(), query, "query rejected"))

    @rpc
    def review_application(self, application_id, data, caller):
        return self._write(APPLICATION, operations.review_application, caller,
                           _id(application_id, "application_id"),
                           load(api.ReviewSchema(), data, "review rejected"))

    @rpc
    def reject_application(self, application_id, data, caller):
        return self._write(APPLICATION, operations.reject_application, caller,
                           _id(application_id, "application_id"),
                           load(api.DecisionReasonSchema(), data, "rejection rejected"))

    @rpc
    def grant_award(self, application_id, data, caller):
        return self._write(AWARD, operations.grant_award, caller,
                           _id(application_id, "application_id"),
                           load(api.AwardInSchema(), data, "award rejected"))

    @rpc
    def get_award(self, award_id, caller):
        return self._read(AWARD, views.get_award, caller, _id(award_id, "award_id"))

    @rpc
    def submit_progress_report(self, award_id, data, caller):
        return self._write(REPORT, operations.submit_progress_report, caller,
                           _id(award_id, "award_id"),
                           load(api.ProgressReportInSchema(), data, "progress report rejected"))

    @rpc
    def get_progress_report(self, report_id, caller):
        return self._read(REPORT, views.get_progress_report, caller,
                          _id(report_id, "report_id"))

    @rpc
    def accept_progress_report(self, report_id, data, caller):
        return self._write(REPORT, operations.decide_progress_report, caller,
                           _id(report_id, "report_id"), True,
                           load(api.NoteSchema(), data, "acceptance rejected")["note"])

    @rpc
    def return_progress_report(self, report_id, data, caller):
        return self._write(REPORT, operations.decide_progress_report, caller,
                           _id(report_id, "report_id"), False,
                           load(api.DecisionReasonSchema(), data, "return rejected")["reason"])

    @rpc
    def disburse_tranche(self, award_id, data, caller):
        return self._write(AWARD, operations.disburse_tranche, caller,
                           _id(award_id, "award_id"),
                           load(api.TrancheInSchema(), data, "disbursement rejected"))

    # --- purchased services --------------------------------------------------------------

    @rpc
    def sign_contract(self, data, caller, idempotency=None):
        return self._write(CONTRACT, operations.sign_contract, caller,
                           load(api.NewContractSchema(), data, "contract rejected"),
                           idempotency_ref=idempotency)

    @rpc
    def get_contract(self, contract_id, caller):
        return self._read(CONTRACT, views.get_contract, caller,
                          _id(contract_id, "contract_id"))

    @rpc
    def list_contracts(self, query, caller):
        return self._read(api.ContractPageOut(), views.list_contracts, caller,
                          load(api.ContractListQuery(), query, "query rejected"))

    @rpc
    def accept_deliverable(self, contract_id, data, caller):
        return self._write(CONTRACT, operations.accept_deliverable, caller,
                           _id(contract_id, "contract_id"),
                           load(api.AcceptanceSchema(), data, "acceptance rejected"))

    # --- activities and statistics -------------------------------------------------------

    @rpc
    def report_activity(self, data, caller, idempotency=None):
        return self._write(ACTIVITY, operations.report_activity, caller,
                           load(api.NewActivitySchema(), data, "activity rejected"),
                           idempotency_ref=idempotency)

    @rpc
    def get_activity(self, activity_id, caller):
        return self._read(ACTIVITY, views.get_activity, caller,
                          _id(activity_id, "activity_id"))

    @rpc
    def list_activities(self, query, caller):
        return self._read(api.ActivityPageOut(), views.list_activities, caller,
                          load(api.ActivityListQuery(), query, "query rejected"))

    @rpc
    def statistics(self, query, caller):
        return self._read(STATISTICS, views.statistics_asked, caller,
                          load(api.StatisticsQuery(), query, "query rejected"))

    @rpc
    def organization_ledger(self, organization_id, caller):
        return self._read(LEDGER, views.organization_ledger, caller,
                          _id(organization_id, "organization_id"))

    # --- referrals -----------------------------------------------------------------------

    @rpc
    def referral_candidates(self, request_id, caller):
        return self._read(CANDIDATES, views.referral_candidates, caller,
                          _id(request_id, "request_id"))

    @rpc
    def refer_request(self, request_id, data, caller):
        return self._write(REFERRAL, operations.refer_request, caller,
                           _id(request_id, "request_id"),
                           load(api.ReferralInSchema(), data, "referral rejected"))

    @rpc
    def get_referral(self, referral_id, caller):
        return self._read(REFERRAL, views.get_referral, caller,
                          _id(referral_id, "referral_id"))

    @rpc
    def list_referrals(self, query, caller):
        return self._read(api.ReferralPageOut(), views.list_referrals, caller,
                          load(api.ReferralListQuery(), query, "query rejected"))

    @rpc
    def conclude_referral(self, referral_id, data, caller):
        return self._write(REFERRAL, operations.conclude_referral, caller,
                           _id(referral_id, "referral_id"),
                           load(api.ReferralOutcomeSchema(), data, "outcome rejected"))

    # --- timers --------------------------------------------------------------------------

    @timer(interval=60)
    def watch_deadlines(self):
        """Reminders before incubation periods end, and grades past their validity."""
        today = today_in(now_utc())
        with self.db.unit_of_work() as uow:
            operations.remind_deadlines(uow, today)
            operations.lapse_grades(uow, today)

    @timer(interval=2)
    def load_sample_when_ready(self):
        """Loads the sample once asked (``gonghui up``) and the registry's places are in."""
        sample.load_if_ready(self.db, pause=eventlet.sleep)

    # --- membership: members (MembershipEventHandlers) and their service requests --------

    def _apply(self, event, apply):
        self.db.apply_once(event, apply, event_time(event))

    @event_handler("membership", "member_batch_imported")
    def handle_member_batch_imported(self, event):
        """Members who arrived by a bulk import: known, so linkable as beneficiaries."""
        self._apply(event, readmodel.memberships.apply_imported)

    @event_handler("membership", "service_request_submitted")
    def handle_service_request_submitted(self, event):
        self._apply(event, readmodel.apply_service_request)

    @event_handler("membership", "service_request_updated")
    def handle_service_request_updated(self, event):
        self._apply(event, readmodel.apply_service_request)
