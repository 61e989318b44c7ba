"""Routes backed by incubation: social organizations, stages and grades, funds, calls,
applications, awards and their tranches, ledgers, purchased-service contracts,
activities and statistics, referrals of members' service requests.

Needs ``self.incubation_rpc`` (a ``BackendRpc("incubation")``) and ``self.auth``. The
gateway checks the token and the role, and the body or query against the contract
(``shared/api/incubation.py``) before anything is sent; incubation checks the scope, since
only it knows where an organization, a fund or a request sits: the caller travels with
each call (``user.caller()``). An organization's own account (a user whose organization
code is ``so:<organization id>``) sees and reports only that organization's own data.
"""

from services.gateway.api import PUBLIC, route
from services.gateway.auth import READ, WRITE
from shared.api import incubation as api
from shared.errors import NotFound
from shared.paging import CursorQuery
from shared.web import json_response, read_json, read_query

V1 = "/api/v1/incubation"
ORGANIZATIONS = "incubation"
FUNDS = "incubation funds"
ACTIVITIES = "incubation activities"
MAX_ID = 2**63 - 1
ACTIVITY_BODY = 256 * 1024  # an activity names up to 2,000 beneficiaries


def _id(value: int, what: str) -> int:
    """Numbers no row can have are a 404 here, without asking incubation."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"no {what} {value}")
    return value


def _body(request, schema):
    """The JSON body as sent, once the contract has accepted it (400 otherwise)."""
    read_json(request, schema)
    return read_json(request)


def _query(request, schema):
    read_query(request, schema)
    return request.args.to_dict()


class IncubationRoutes:
    api_tags = [
        {"name": ORGANIZATIONS, "description": "Social organizations the hub federation "
                                               "(服务职工社会组织联合会) incubates: stages from "
                                               "application to graduation (出壳), grades 1A-5A "
                                               "computed from policy, statistics."},
        {"name": FUNDS, "description": "Funds, calls, applications and awards paid in "
                                       "tranches against accepted progress reports; ledgers; "
                                       "purchased-service contracts."},
        {"name": ACTIVITIES, "description": "Activities and their beneficiaries (members "
                                            "linked), referrals of members' service requests."},
    ]

    def _send(self, user, method, *args, status=200):
        """Call incubation's ``method`` with ``args`` and the user as the caller."""
        return json_response(getattr(self.incubation_rpc, method)(*args, user.caller()),
                             status=status)

    def _create(self, request, user, method, body):
        """``_send`` for a creating route that takes an ``Idempotency-Key``: a 201."""
        return json_response(getattr(self.incubation_rpc, method)(
            body, user.caller(), idempotency=self.auth.idempotency(request, user.scope)),
            status=201)

    # --- organizations ---------------------------------------------------------------------

    @route("POST", f"{V1}/organizations", tag=ORGANIZATIONS, access=WRITE, status=201,
           summary="An organization applies for incubation (or add the hub federation)",
           description="Staff of the subtree of its home place record it; it starts as "
                       "`applied`. A credit code, if given, is checked like an enterprise's.",
           body=api.NewSocialOrganizationSchema, response=api.SocialOrganizationOut, errors=(409,))
    def add_incubated_organization(self, request):
        user = self.auth.user(request, WRITE)
        return self._send(user, "add_organization",
                          _body(request, api.NewSocialOrganizationSchema()), status=201)

    @route("GET", f"{V1}/organizations", tag=ORGANIZATIONS, access=READ,
           summary="Organizations based within a subtree, a page at a time",
           query=api.SocialOrganizationListQuery, response=api.SocialOrganizationPageOut)
    def list_incubated_organizations(self, request):
        user = self.auth.user(request, READ)
        query = _query(request, api.SocialOrganizationListQuery())
        return self._send(user, "list_organizations", query)

    @route("GET", f"{V1}/organizations/<int:organization_id>", tag=ORGANIZATIONS,
           access=READ, summary="One organization with its stage history, plan and grade",
           description="Its own account (`so:<id>`) may read it too.",
           response=api.SocialOrganizationOut)
    def get_incubated_organization(self, request, organization_id):
        user = self.auth.user(request, READ)
        return self._send(user, "get_organization",
                          _id(organization_id, "organization"))

    @route("PATCH", f"{V1}/organizations/<int:organization_id>", tag=ORGANIZATIONS,
           access=WRITE, summary="Change name, places, contacts or civil-affairs registration",
           body=api.SocialOrganizationChangesSchema, response=api.SocialOrganizationOut,
           errors=(409,))
    def update_incubated_organization(self, request, organization_id):
        user = self.auth.user(request, WRITE)
        changes = _body(request, api.SocialOrganizationChangesSchema())
        return self._send(user, "update_organization",
                          _id(organization_id, "organization"), changes)

    @route("POST", f"{V1}/organizations/<int:organization_id>/stage", tag=ORGANIZATIONS,
           access=WRITE, summary="Move to the next stage, with the reason",
           description="admitted (starts the incubation period), incubating (with a plan), "
                       "assessed (needs a valid grade), graduated (the graduation conditions "
                       "of the rules policy: a refusal is a 409 naming the rule), exited.",
           body=api.TransitionSchema, response=api.SocialOrganizationOut, errors=(409,))
    def change_incubation_stage(self, request, organization_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.TransitionSchema())
        return self._send(user, "change_stage",
                          _id(organization_id, "organization"), data)

    @route("POST", f"{V1}/organizations/<int:organization_id>/assessments",
           tag=ORGANIZATIONS, access=WRITE, status=201,
           summary="Record an assessment: the grade (1A-5A) is computed from the scores",
           description="Each assessor scores every indicator of the grading policy in force "
                       "on the day; the answer shows how the grade was computed and how "
                       "long it is valid.",
           body=api.AssessmentInSchema, response=api.AssessmentOut)
    def record_incubation_assessment(self, request, organization_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.AssessmentInSchema())
        return self._send(user, "record_assessment",
                          _id(organization_id, "organization"), data, status=201)

    @route("GET", f"{V1}/organizations/<int:organization_id>/assessments",
           tag=ORGANIZATIONS, access=READ, summary="An organization's assessments, newest first",
           query=CursorQuery, response=api.AssessmentPageOut)
    def list_incubation_assessments(self, request, organization_id):
        user = self.auth.user(request, READ)
        query = _query(request, CursorQuery())
        return self._send(user, "list_assessments",
                          _id(organization_id, "organization"), query)

    @route("GET", f"{V1}/organizations/<int:organization_id>/ledger", tag=FUNDS,
           access=READ, summary="An organization's ledger: granted, receivable, received",
           response=api.LedgerOut)
    def organization_ledger(self, request, organization_id):
        user = self.auth.user(request, READ)
        return self._send(user, "organization_ledger",
                          _id(organization_id, "organization"))

    @route("GET", f"{V1}/policies", tag=ORGANIZATIONS, access=PUBLIC,
           summary="The grading and rules policies, every version, a page at a time",
           query=CursorQuery, response=api.PolicyPageOut)
    def incubation_policies(self, request):
        return json_response(self.incubation_rpc.policies(_query(request, CursorQuery())))

    @route("GET", f"{V1}/statistics", tag=ORGANIZATIONS, access=READ,
           summary="Organizations by stage and grade, activities and distinct workers "
                   "reached, funds awarded and paid, for a subtree and period",
           query=api.StatisticsQuery, response=api.StatisticsOut)
    def incubation_statistics(self, request):
        user = self.auth.user(request, READ)
        query = _query(request, api.StatisticsQuery())
        return self._send(user, "statistics", query)

    # --- funds, calls, applications, awards ----------------------------------------------

    @route("POST", f"{V1}/funds", tag=FUNDS, access=WRITE, status=201,
           summary="Create a fund with its budget", body=api.NewFundSchema,
           response=api.FundOut, errors=(409,), idempotent=True)
    def create_fund(self, request):
        user = self.auth.user(request, WRITE)
        return self._create(request, user, "create_fund",
                            _body(request, api.NewFundSchema()))

    @route("GET", f"{V1}/funds", tag=FUNDS, access=READ,
           summary="Funds run within a subtree", query=api.FundListQuery,
           response=api.FundPageOut)
    def list_funds(self, request):
        user = self.auth.user(request, READ)
        return self._send(user, "list_funds",
                          _query(request, api.FundListQuery()))

    @route("GET", f"{V1}/funds/<int:fund_id>", tag=FUNDS, access=READ,
           summary="A fund: budget, awarded, paid, remaining", response=api.FundOut)
    def get_fund(self, request, fund_id):
        user = self.auth.user(request, READ)
        return self._send(user, "get_fund", _id(fund_id, "fund"))

    @route("GET", f"{V1}/funds/<int:fund_id>/ledger", tag=FUNDS, access=READ,
           summary="A fund's ledger: source, available, committed, paid; balanced",
           response=api.LedgerOut)
    def fund_ledger(self, request, fund_id):
        user = self.auth.user(request, READ)
        return self._send(user, "fund_ledger", _id(fund_id, "fund"))

    @route("POST", f"{V1}/funds/<int:fund_id>/calls", tag=FUNDS, access=WRITE, status=201,
           summary="Open a call: its application window and eligibility",
           body=api.NewCallSchema, response=api.CallOut)
    def open_call(self, request, fund_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.NewCallSchema())
        return self._send(user, "open_call", _id(fund_id, "fund"), data, status=201)

    @route("GET", f"{V1}/calls", tag=FUNDS, access=READ, summary="A fund's calls",
           query=api.CallListQuery, response=api.CallPageOut)
    def list_calls(self, request):
        user = self.auth.user(request, READ)
        return self._send(user, "list_calls",
                          _query(request, api.CallListQuery()))

    @route("GET", f"{V1}/calls/<int:call_id>", tag=FUNDS, access=READ, summary="One call",
           response=api.CallOut)
    def get_call(self, request, call_id):
        user = self.auth.user(request, READ)
        return self._send(user, "get_call", _id(call_id, "call"))

    @route("POST", f"{V1}/calls/<int:call_id>/applications", tag=FUNDS, access=WRITE,
           status=201, summary="Apply to a call (the organization's own account, or staff)",
           description="Refused with a 409 naming the rule when the organization does not "
                       "meet the fund-application gate or the call's eligibility (e.g. a 2A "
                       "organization to a call for 3A and above).",
           body=api.NewApplicationSchema, response=api.ApplicationOut, errors=(409,))
    def apply_to_call(self, request, call_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.NewApplicationSchema())
        return self._send(user, "apply_to_call", _id(call_id, "call"), data, status=201)

    @route("GET", f"{V1}/applications", tag=FUNDS, access=READ,
           summary="Applications to a call, or of an organization",
           query=api.ApplicationListQuery, response=api.ApplicationPageOut)
    def list_applications(self, request):
        user = self.auth.user(request, READ)
        return self._send(user, "list_applications",
                          _query(request, api.ApplicationListQuery()))

    @route("GET", f"{V1}/applications/<int:application_id>", tag=FUNDS, access=READ,
           summary="One application", response=api.ApplicationOut)
    def get_application(self, request, application_id):
        user = self.auth.user(request, READ)
        return self._send(user, "get_application",
                          _id(application_id, "application"))

    @route("POST", f"{V1}/applications/<int:application_id>/review", tag=FUNDS, access=WRITE,
           summary="Review and score an application", body=api.ReviewSchema,
           response=api.ApplicationOut, errors=(409,))
    def review_application(self, request, application_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.ReviewSchema())
        return self._send(user, "review_application",
                          _id(application_id, "application"), data)

    @route("POST", f"{V1}/applications/<int:application_id>/reject", tag=FUNDS, access=WRITE,
           summary="Reject an application, with the reason", body=api.DecisionReasonSchema,
           response=api.ApplicationOut, errors=(409,))
    def reject_application(self, request, application_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.DecisionReasonSchema())
        return self._send(user, "reject_application",
                          _id(application_id, "application"), data)

    @route("POST", f"{V1}/applications/<int:application_id>/award", tag=FUNDS, access=WRITE,
           status=201, summary="Award a reviewed application within the fund's remaining "
                               "budget, in tranches",
           description="Never above what the fund has left, also when staff award at the "
                       "same moment: the one that does not fit is a 409 (rule fund.budget).",
           body=api.AwardInSchema, response=api.AwardOut, errors=(409,))
    def grant_award(self, request, application_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.AwardInSchema())
        return self._send(user, "grant_award", _id(application_id, "application"),
                             data, status=201)

    @route("GET", f"{V1}/awards/<int:award_id>", tag=FUNDS, access=READ,
           summary="An award and its tranches", response=api.AwardOut)
    def get_award(self, request, award_id):
        user = self.auth.user(request, READ)
        return self._send(user, "get_award", _id(award_id, "award"))

    @route("POST", f"{V1}/awards/<int:award_id>/progress-reports", tag=FUNDS, access=WRITE,
           status=201, summary="Report progress for a tranche (the organization's own "
                               "account, or staff)",
           body=api.ProgressReportInSchema, response=api.ProgressReportOut, errors=(409,))
    def submit_progress_report(self, request, award_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.ProgressReportInSchema())
        return self._send(user, "submit_progress_report", _id(award_id, "award"), data, status=201)

    @route("POST", f"{V1}/awards/<int:award_id>/disbursements", tag=FUNDS, access=WRITE,
           summary="Pay a tranche against its accepted progress report",
           body=api.TrancheInSchema, response=api.AwardOut, errors=(409,))
    def disburse_tranche(self, request, award_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.TrancheInSchema())
        return self._send(user, "disburse_tranche", _id(award_id, "award"),
                                data)

    @route("GET", f"{V1}/progress-reports/<int:report_id>", tag=FUNDS, access=READ,
           summary="One progress report", response=api.ProgressReportOut)
    def get_progress_report(self, request, report_id):
        user = self.auth.user(request, READ)
        return self._send(user, "get_progress_report",
                          _id(report_id, "progress report"))

    @route("POST", f"{V1}/progress-reports/<int:report_id>/accept", tag=FUNDS, access=WRITE,
           summary="Accept a progress report: its tranche may be paid", body=api.NoteSchema,
           response=api.ProgressReportOut, errors=(409,))
    def accept_progress_report(self, request, report_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.NoteSchema())
        return self._send(user, "accept_progress_report",
                          _id(report_id, "progress report"), data)

    @route("POST", f"{V1}/progress-reports/<int:report_id>/return", tag=FUNDS, access=WRITE,
           summary="Send a progress report back, with the reason", body=api.DecisionReasonSchema,
           response=api.ProgressReportOut, errors=(409,))
    def return_progress_report(self, request, report_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.DecisionReasonSchema())
        return self._send(user, "return_progress_report",
                          _id(report_id, "progress report"), data)

    # --- purchased services ----------------------------------------------------------------

    @route("POST", f"{V1}/contracts", tag=FUNDS, access=WRITE, status=201,
           summary="Sign a purchased-service contract (政府购买服务) with an organization",
           description="The buyer's staff sign it; the organization must pass the "
                       "purchased-service gate of the rules policy (a 409 names the rule).",
           body=api.NewContractSchema, response=api.ContractOut, errors=(409,),
           idempotent=True)
    def sign_contract(self, request):
        user = self.auth.user(request, WRITE)
        return self._create(request, user, "sign_contract",
                            _body(request, api.NewContractSchema()))

    @route("GET", f"{V1}/contracts", tag=FUNDS, access=READ,
           summary="An organization's contracts", query=api.ContractListQuery,
           response=api.ContractPageOut)
    def list_contracts(self, request):
        user = self.auth.user(request, READ)
        return self._send(user, "list_contracts",
                          _query(request, api.ContractListQuery()))

    @route("GET", f"{V1}/contracts/<int:contract_id>", tag=FUNDS, access=READ,
           summary="A contract and its deliverables", response=api.ContractOut)
    def get_contract(self, request, contract_id):
        user = self.auth.user(request, READ)
        return self._send(user, "get_contract", _id(contract_id, "contract"))

    @route("POST", f"{V1}/contracts/<int:contract_id>/acceptances", tag=FUNDS, access=WRITE,
           summary="Accept a deliverable (the buyer's staff); the last completes the contract",
           body=api.AcceptanceSchema, response=api.ContractOut, errors=(409,))
    def accept_deliverable(self, request, contract_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.AcceptanceSchema())
        return self._send(user, "accept_deliverable", _id(contract_id, "contract"), data)

    # --- activities and referrals ----------------------------------------------------------

    @route("POST", f"{V1}/activities", tag=ACTIVITIES, access=WRITE, status=201,
           summary="Report an activity with its head-count and beneficiaries",
           description="Beneficiaries are union members by membership's worker number "
                       "(linked to the member) or anyone else by the organization's own "
                       "reference: workers reached count each person once. The "
                       "organization's own account reports its own.",
           body=api.NewActivitySchema, response=api.ActivityOut, errors=(409,),
           max_body=ACTIVITY_BODY, idempotent=True)
    def report_activity(self, request):
        user = self.auth.user(request, WRITE)
        return self._create(request, user, "report_activity",
                            _body(request, api.NewActivitySchema()))

    @route("GET", f"{V1}/activities", tag=ACTIVITIES, access=READ,
           summary="An organization's activities, the latest reported first",
           query=api.ActivityListQuery, response=api.ActivityPageOut)
    def list_activities(self, request):
        user = self.auth.user(request, READ)
        return self._send(user, "list_activities",
                          _query(request, api.ActivityListQuery()))

    @route("GET", f"{V1}/activities/<int:activity_id>", tag=ACTIVITIES, access=READ,
           summary="One activity", response=api.ActivityOut)
    def get_activity(self, request, activity_id):
        user = self.auth.user(request, READ)
        return self._send(user, "get_activity", _id(activity_id, "activity"))

    @route("GET", f"{V1}/service-requests/<int:request_id>/candidates", tag=ACTIVITIES,
           access=READ, summary="Organizations a member's service request may be referred to",
           description="Of a kind of service the request's kind maps to (rules policy), "
                       "serving the member's place, and passing the referral gate.",
           response=api.CandidatesOut)
    def referral_candidates(self, request, request_id):
        user = self.auth.user(request, READ)
        return self._send(user, "referral_candidates",
                          _id(request_id, "service request"))

    @route("POST", f"{V1}/service-requests/<int:request_id>/referrals", tag=ACTIVITIES,
           access=WRITE, status=201,
           summary="Refer a member's service request to a qualified organization",
           description="The referral travels to membership as an event and shows on the "
                       "request there.",
           body=api.ReferralInSchema, response=api.ReferralOut, errors=(409,))
    def refer_request(self, request, request_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.ReferralInSchema())
        return self._send(user, "refer_request", _id(request_id, "service request"),
                             data, status=201)

    @route("GET", f"{V1}/referrals", tag=ACTIVITIES, access=READ,
           summary="The referrals an organization took", query=api.ReferralListQuery,
           response=api.ReferralPageOut)
    def list_referrals(self, request):
        user = self.auth.user(request, READ)
        return self._send(user, "list_referrals",
                          _query(request, api.ReferralListQuery()))

    @route("GET", f"{V1}/referrals/<int:referral_id>", tag=ACTIVITIES, access=READ,
           summary="One referral", response=api.ReferralOut)
    def get_referral(self, request, referral_id):
        user = self.auth.user(request, READ)
        return self._send(user, "get_referral", _id(referral_id, "referral"))

    @route("POST", f"{V1}/referrals/<int:referral_id>/outcome", tag=ACTIVITIES, access=WRITE,
           summary="The organization served the referral or declined it",
           body=api.ReferralOutcomeSchema, response=api.ReferralOut, errors=(409,))
    def conclude_referral(self, request, referral_id):
        user = self.auth.user(request, WRITE)
        data = _body(request, api.ReferralOutcomeSchema())
        return self._send(user, "conclude_referral",
                          _id(referral_id, "referral"), data)
