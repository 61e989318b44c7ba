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


class IncubationService(RegistryEventHandlers, MembershipEventHandlers, OpsEndpoints):
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

    def _write(self, operation, *args):
        with self.db.unit_of_work() as uow:
            return operation(uow, *args)

    def _read(self, view, *args):
        with self.db.session() as session:
            return view(session, *args)

    # --- organizations -------------------------------------------------------------------

    @rpc
    def add_organization(self, data, caller):
        caller = Caller.from_dict(caller)
        data = load(api.NewSocialOrganizationSchema(), data, "organization rejected")
        return ORGANIZATION.dump(self._write(operations.add_organization, data, caller))

    @rpc
    def get_organization(self, organization_id, caller):
        caller = Caller.from_dict(caller)
        return ORGANIZATION.dump(self._read(views.get_organization,
                                            _id(organization_id, "organization_id"), caller))

    @rpc
    def list_organizations(self, query, caller):
        caller = Caller.from_dict(caller)
        query = load(api.SocialOrganizationListQuery(), query, "query rejected")
        return api.SocialOrganizationPageOut().dump(self._read(views.list_organizations, query,
                                                         caller))

    @rpc
    def update_organization(self, organization_id, changes, caller):
        caller = Caller.from_dict(caller)
        organization_id = _id(organization_id, "organization_id")
        changes = load(api.SocialOrganizationChangesSchema(), changes, "changes rejected")
        return ORGANIZATION.dump(self._write(operations.update_organization, organization_id,
                                             changes, caller))

    @rpc
    def change_stage(self, organization_id, data, caller):
        caller = Caller.from_dict(caller)
        organization_id = _id(organization_id, "organization_id")
        data = load(api.TransitionSchema(), data, "stage change rejected")
        return ORGANIZATION.dump(self._write(operations.change_stage, organization_id, data,
                                             caller))

    @rpc
    def record_assessment(self, organization_id, data, caller):
        caller = Caller.from_dict(caller)
        organization_id = _id(organization_id, "organization_id")
        data = load(api.AssessmentInSchema(), data, "assessment rejected")
        return ASSESSMENT.dump(self._write(operations.record_assessment, organization_id,
                                           data, caller))

    @rpc
    def list_assessments(self, organization_id, query, caller):
        caller = Caller.from_dict(caller)
        organization_id = _id(organization_id, "organization_id")
        query = load(api.CursorQuery(), query, "query rejected")
        return api.AssessmentPageOut().dump(self._read(
            views.list_assessments, organization_id, query, caller))

    @rpc
    def policies(self, query=None):
        query = load(api.CursorQuery(), query or {}, "query rejected")
        return api.PolicyPageOut().dump(views.policies(query))

    # --- funds ---------------------------------------------------------------------------

    @rpc
    def create_fund(self, data, caller):
        caller = Caller.from_dict(caller)
        data = load(api.NewFundSchema(), data, "fund rejected")
        return FUND.dump(self._write(operations.create_fund, data, caller))

    @rpc
    def get_fund(self, fund_id, caller):
        caller = Caller.from_dict(caller)
        return FUND.dump(self._read(views.get_fund, _id(fund_id, "fund_id"), caller))

    @rpc
    def list_funds(self, query, caller):
        caller = Caller.from_dict(caller)
        query = load(api.FundListQuery(), query, "query rejected")
        return api.FundPageOut().dump(self._read(views.list_funds, query, caller))

    @rpc
    def fund_ledger(self, fund_id, caller):
        caller = Caller.from_dict(caller)
        return LEDGER.dump(self._read(views.fund_ledger, _id(fund_id, "fund_id"), caller))

    @rpc
    def open_call(self, fund_id, data, caller):
        caller = Caller.from_dict(caller)
        fund_id = _id(fund_id, "fund_id")
        data = load(api.NewCallSchema(), data, "call rejected")
        return CALL.dump(self._write(operations.open_call, fund_id, data, caller))

    @rpc
    def get_call(self, call_id, caller):
        caller = Caller.from_dict(caller)
        return CALL.dump(self._read(views.get_call, _id(call_id, "call_id"), caller))

    @rpc
    def list_calls(self, query, caller):
        caller = Caller.from_dict(caller)
        query = load(api.CallListQuery(), query, "query rejected")
        return api.CallPageOut().dump(self._read(views.list_calls, query, caller))

    @rpc
    def apply_to_call(self, call_id, data, caller):
        caller = Caller.from_dict(caller)
        call_id = _id(call_id, "call_id")
        data = load(api.NewApplicationSchema(), data, "application rejected")
        return APPLICATION.dump(self._write(operations.apply_to_call, call_id, data, caller))

    @rpc
    def get_application(self, application_id, caller):
        caller = Caller.from_dict(caller)
        return APPLICATION.dump(self._read(views.get_application,
                                           _id(application_id, "application_id"), caller))

    @rpc
    def list_applications(self, query, caller):
        caller = Caller.from_dict(caller)
        query = load(api.ApplicationListQuery(), query, "query rejected")
        return api.ApplicationPageOut().dump(self._read(views.list_applications, query,
                                                        caller))

    @rpc
    def review_application(self, application_id, data, caller):
        caller = Caller.from_dict(caller)
        application_id = _id(application_id, "application_id")
        data = load(api.ReviewSchema(), data, "review rejected")
        return APPLICATION.dump(self._write(operations.review_application, application_id,
                                            data, caller))

    @rpc
    def reject_application(self, application_id, data, caller):
        caller = Caller.from_dict(caller)
        application_id = _id(application_id, "application_id")
        data = load(api.DecisionReasonSchema(), data, "rejection rejected")
        return APPLICATION.dump(self._write(operations.reject_application, application_id,
                                            data, caller))

    @rpc
    def grant_award(self, application_id, data, caller):
        caller = Caller.from_dict(caller)
        application_id = _id(application_id, "application_id")
        data = load(api.AwardInSchema(), data, "award rejected")
        return AWARD.dump(self._write(operations.grant_award, application_id, data, caller))

    @rpc
    def get_award(self, award_id, caller):
        caller = Caller.from_dict(caller)
        return AWARD.dump(self._read(views.get_award, _id(award_id, "award_id"), caller))

    @rpc
    def submit_progress_report(self, award_id, data, caller):
        caller = Caller.from_dict(caller)
        award_id = _id(award_id, "award_id")
        data = load(api.ProgressReportInSchema(), data, "progress report rejected")
        return REPORT.dump(self._write(operations.submit_progress_report, award_id, data,
                                       caller))

    @rpc
    def get_progress_report(self, report_id, caller):
        caller = Caller.from_dict(caller)
        return REPORT.dump(self._read(views.get_progress_report,
                                      _id(report_id, "report_id"), caller))

    @rpc
    def accept_progress_report(self, report_id, data, caller):
        caller = Caller.from_dict(caller)
        report_id = _id(report_id, "report_id")
        data = load(api.NoteSchema(), data, "acceptance rejected")
        return REPORT.dump(self._write(operations.decide_progress_report, report_id, True,
                                       data["note"], caller))

    @rpc
    def return_progress_report(self, report_id, data, caller):
        caller = Caller.from_dict(caller)
        report_id = _id(report_id, "report_id")
        data = load(api.DecisionReasonSchema(), data, "return rejected")
        return REPORT.dump(self._write(operations.decide_progress_report, report_id, False,
                                       data["reason"], caller))

    @rpc
    def disburse_tranche(self, award_id, data, caller):
        caller = Caller.from_dict(caller)
        award_id = _id(award_id, "award_id")
        data = load(api.TrancheInSchema(), data, "disbursement rejected")
        return AWARD.dump(self._write(operations.disburse_tranche, award_id, data, caller))

    # --- purchased services --------------------------------------------------------------

    @rpc
    def sign_contract(self, data, caller):
        caller = Caller.from_dict(caller)
        data = load(api.NewContractSchema(), data, "contract rejected")
        return CONTRACT.dump(self._write(operations.sign_contract, data, caller))

    @rpc
    def get_contract(self, contract_id, caller):
        caller = Caller.from_dict(caller)
        return CONTRACT.dump(self._read(views.get_contract, _id(contract_id, "contract_id"),
                                        caller))

    @rpc
    def list_contracts(self, query, caller):
        caller = Caller.from_dict(caller)
        query = load(api.ContractListQuery(), query, "query rejected")
        return api.ContractPageOut().dump(self._read(views.list_contracts, query, caller))

    @rpc
    def accept_deliverable(self, contract_id, data, caller):
        caller = Caller.from_dict(caller)
        contract_id = _id(contract_id, "contract_id")
        data = load(api.AcceptanceSchema(), data, "acceptance rejected")
        return CONTRACT.dump(self._write(operations.accept_deliverable, contract_id, data,
                                         caller))

    # --- activities and statistics -------------------------------------------------------

    @rpc
    def report_activity(self, data, caller):
        caller = Caller.from_dict(caller)
        data = load(api.NewActivitySchema(), data, "activity rejected")
        return ACTIVITY.dump(self._write(operations.report_activity, data, caller))

    @rpc
    def get_activity(self, activity_id, caller):
        caller = Caller.from_dict(caller)
        return ACTIVITY.dump(self._read(views.get_activity, _id(activity_id, "activity_id"),
                                        caller))

    @rpc
    def list_activities(self, query, caller):
        caller = Caller.from_dict(caller)
        query = load(api.ActivityListQuery(), query, "query rejected")
        return api.ActivityPageOut().dump(self._read(views.list_activities, query, caller))

    @rpc
    def statistics(self, query, caller):
        caller = Caller.from_dict(caller)
        query = load(api.StatisticsQuery(), query, "query rejected")
        return STATISTICS.dump(self._read(views.statistics, query["code"],
                                          query["period"] or "all", caller, query["first"],
                                          query["last"]))

    @rpc
    def organization_ledger(self, organization_id, caller):
        caller = Caller.from_dict(caller)
        return LEDGER.dump(self._read(views.organization_ledger,
                                      _id(organization_id, "organization_id"), caller))

    # --- referrals -----------------------------------------------------------------------

    @rpc
    def referral_candidates(self, request_id, caller):
        caller = Caller.from_dict(caller)
        return CANDIDATES.dump(self._read(views.referral_candidates,
                                          _id(request_id, "request_id"), caller))

    @rpc
    def refer_request(self, request_id, data, caller):
        caller = Caller.from_dict(caller)
        request_id = _id(request_id, "request_id")
        data = load(api.ReferralInSchema(), data, "referral rejected")
        return REFERRAL.dump(self._write(operations.refer_request, request_id, data, caller))

    @rpc
    def get_referral(self, referral_id, caller):
        caller = Caller.from_dict(caller)
        return REFERRAL.dump(self._read(views.get_referral, _id(referral_id, "referral_id"),
                                        caller))

    @rpc
    def list_referrals(self, query, caller):
        caller = Caller.from_dict(caller)
        query = load(api.ReferralListQuery(), query, "query rejected")
        return api.ReferralPageOut().dump(self._read(views.list_referrals, query, caller))

    @rpc
    def conclude_referral(self, referral_id, data, caller):
        caller = Caller.from_dict(caller)
        referral_id = _id(referral_id, "referral_id")
        data = load(api.ReferralOutcomeSchema(), data, "outcome rejected")
        return REFERRAL.dump(self._write(operations.conclude_referral, referral_id, data,
                                         caller))

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
