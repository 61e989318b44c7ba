"""Routes backed by membership: applications, members, cards, merchants, member services,
join rates.

Needs ``self.membership_rpc`` (a ``BackendRpc("membership")``) and ``self.auth``. The
gateway checks the token and the role; membership checks the scope, since only it knows
which union and enterprise a member or a request belongs to: the caller travels with each
call as ``user.caller()``. Bodies and query strings are checked with membership's own
RPC contract (``shared.api.membership``) before the call, and documented with it.
Personal data (ID number, phone) only comes out of ``/personal-data``, for staff and
admins over the member.
"""

from services.gateway.api import PUBLIC, TOKEN, route
from services.gateway.auth import READ, WRITE
from shared import idempotency
from shared.api.membership import (
    CODE_MAX_LENGTH,
    MAX_ID,
    RATE_LIMITS,
    ApplicationSchema,
    CardCheckSchema,
    CardOut,
    CardRequestSchema,
    CardVerdictOut,
    JoinRateListQuery,
    JoinRateOut,
    JoinRatePageOut,
    MemberListQuery,
    MemberOut,
    MemberPageOut,
    MembershipOut,
    MerchantListQuery,
    MerchantOut,
    MerchantPageOut,
    MerchantSchema,
    PersonalDataOut,
    PurchaseOut,
    PurchaseSchema,
    ReasonSchema,
    RequestListQuery,
    ServiceRequestOut,
    ServiceRequestPageOut,
    ServiceRequestSchema,
    ServiceRequestUpdateSchema,
    TransferSchema,
)
from shared.errors import NotFound
from shared.web import json_response, read_json, read_query

V1 = "/api/v1"
MEMBERS = "membership"
MERCHANTS = "merchants"
SERVICES = "member services"
_HITS, _WINDOW = RATE_LIMITS["card_check"]
CARD_CHECK_LIMIT = (f"Card checks and purchase checks count together per user: {_HITS} per "
                    f"{_WINDOW} s unless MEMBERSHIP_RATE_LIMITS says otherwise. Past that, a "
                    "429 whose Retry-After header and details.retry_after say in how many "
                    "seconds to try again.")


def _id(value: int, what: str) -> int:
    """Numbers no row can have are a 404 here, without asking membership."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"no {what} {value}")
    return value


def _code(code: str) -> str:
    if len(code) > CODE_MAX_LENGTH:
        raise NotFound(f"no organization {code[:CODE_MAX_LENGTH]}...")
    return code


class MembershipRoutes:
    api_tags = [
        {"name": MEMBERS, "description": "Applications to join (入会), members and their "
                                         "status history, member cards, join rates (入会率)."},
        {"name": MERCHANTS, "description": "Partner merchants (爱心商家) and the union "
                                           "supermarket: member prices for a valid card."},
        {"name": SERVICES, "description": "Members' requests: hardship aid, school aid, legal "
                                          "consultation, counselling, training, complaints."},
    ]

    # --- applications and memberships ------------------------------------------------

    @route("POST", f"{V1}/applications", tag=MEMBERS, access=PUBLIC, status=201,
           summary="Apply to join the union online (智慧工建)",
           description="The worker joins the union of their enterprise, or the community "
                       "or park federation covering it. ID number (18 digits, GB 11643 "
                       "check digit) and phone (mainland mobile) are validated and never "
                       "echoed in errors. 409 when the worker already has a pending or "
                       "active membership.",
           body=ApplicationSchema, response=MembershipOut, errors=(404, 409), idempotent=True)
    def apply_online(self, request):
        data = read_json(request, ApplicationSchema())
        return json_response(self.membership_rpc.apply_online(
            data, idempotency=self.auth.idempotency(request, idempotency.ANONYMOUS)),
            status=201)

    @route("POST", f"{V1}/memberships", tag=MEMBERS, access=WRITE, status=201,
           summary="Enter a paper application for a worker", body=ApplicationSchema,
           response=MembershipOut, errors=(404, 409), idempotent=True)
    def enter_application(self, request):
        user = self.auth.user(request, WRITE)
        data = read_json(request, ApplicationSchema())
        return json_response(self.membership_rpc.enter_application(
            data, user.caller(), idempotency=self.auth.idempotency(request, user.scope)),
            status=201)

    @route("POST", f"{V1}/memberships/<int:membership_id>/approve", tag=MEMBERS,
           access=WRITE, summary="Approve an application: an active member with a new card",
           description="The answer holds the card number: it is shown this once (membership "
                       "keeps only a keyed hash).",
           response=MembershipOut, errors=(409,))
    def approve_membership(self, request, membership_id):
        user = self.auth.user(request, WRITE)
        return json_response(self.membership_rpc.approve(_id(membership_id, "membership"),
                                                         user.caller()))

    def _end(self, request, membership_id, action):
        user = self.auth.user(request, WRITE)
        body = read_json(request, ReasonSchema())
        call = getattr(self.membership_rpc, action)
        return json_response(call(_id(membership_id, "membership"), body, user.caller()))

    @route("POST", f"{V1}/memberships/<int:membership_id>/reject", tag=MEMBERS,
           access=WRITE, summary="Reject an application, with a reason", body=ReasonSchema,
           response=MembershipOut, errors=(409,))
    def reject_membership(self, request, membership_id):
        return self._end(request, membership_id, "reject")

    @route("POST", f"{V1}/memberships/<int:membership_id>/lapse", tag=MEMBERS, access=WRITE,
           summary="Lapse a membership, with a reason", body=ReasonSchema,
           response=MembershipOut, errors=(409,))
    def lapse_membership(self, request, membership_id):
        return self._end(request, membership_id, "lapse")

    @route("POST", f"{V1}/memberships/<int:membership_id>/leave", tag=MEMBERS, access=WRITE,
           summary="Record that a member left, with a reason", body=ReasonSchema,
           response=MembershipOut, errors=(409,))
    def leave_membership(self, request, membership_id):
        return self._end(request, membership_id, "leave")

    @route("POST", f"{V1}/memberships/<int:membership_id>/transfer", tag=MEMBERS,
           access=WRITE, summary="Transfer an active member to another enterprise's union",
           description="The old membership is kept as history (status transferred); a new "
                       "active one starts. Both enterprises must be in the caller's subtree.",
           body=TransferSchema, response=MembershipOut, errors=(409,))
    def transfer_membership(self, request, membership_id):
        user = self.auth.user(request, WRITE)
        body = read_json(request, TransferSchema())
        return json_response(self.membership_rpc.transfer(
            _id(membership_id, "membership"), body, user.caller()))

    @route("GET", f"{V1}/members", tag=MEMBERS, access=READ,
           summary="Memberships in an organization's subtree, oldest first, a page at a time",
           description="Memberships only, without names: a name is personal data; "
                       "`GET /members/{worker_id}` gives one member's record.",
           query=MemberListQuery, response=MemberPageOut)
    def list_members(self, request):
        user = self.auth.user(request, READ)
        query = read_query(request, MemberListQuery())
        return json_response(self.membership_rpc.list_members(query, user.caller()))

    @route("GET", f"{V1}/members/<int:worker_id>", tag=MEMBERS, access=READ,
           summary="A member: name, masked ID number and phone, history, cards",
           response=MemberOut)
    def get_member(self, request, worker_id):
        user = self.auth.user(request, READ)
        return json_response(self.membership_rpc.member(_id(worker_id, "member"),
                                                        user.caller()))

    @route("GET", f"{V1}/members/<int:worker_id>/personal-data", tag=MEMBERS, access=WRITE,
           summary="A member's ID number and phone in clear (staff over the member only)",
           response=PersonalDataOut)
    def get_personal_data(self, request, worker_id):
        user = self.auth.user(request, WRITE)
        return json_response(self.membership_rpc.personal_data(_id(worker_id, "member"),
                                                               user.caller()))

    @route("GET", f"{V1}/organizations/<code>/join-rate", tag=MEMBERS, access=PUBLIC,
           summary="Join rate (入会率): members / workers of an organization's subtree",
           description="Also accepts an enterprise's credit code. Counters are kept "
                       "current with every change, so this is one read.",
           response=JoinRateOut)
    def join_rate(self, request, code):
        return json_response(self.membership_rpc.join_rate(_code(code)))

    @route("GET", f"{V1}/organizations/<code>/join-rates", tag=MEMBERS, access=PUBLIC,
           summary="The join rate of each organization directly below one",
           query=JoinRateListQuery, response=JoinRatePageOut)
    def join_rates_below(self, request, code):
        query = read_query(request, JoinRateListQuery())
        return json_response(self.membership_rpc.join_rates_below(_code(code), query))

    # --- cards and merchants ---------------------------------------------------------

    @route("POST", f"{V1}/members/<int:worker_id>/cards", tag=MEMBERS, access=WRITE,
           status=201, summary="Issue a card, or replace a lost one (`lost`: true)",
           description="Replacing makes every earlier card of the member read `expired`. "
                       "The number is shown this once.",
           body=CardRequestSchema, response=CardOut, errors=(409,))
    def request_card(self, request, worker_id):
        user = self.auth.user(request, WRITE)
        body = read_json(request, CardRequestSchema())
        return json_response(self.membership_rpc.request_card(
            _id(worker_id, "member"), body, user.caller()), status=201)

    @route("POST", f"{V1}/cards/check", tag=MERCHANTS, access=TOKEN,
           summary="Is this member card valid? valid / expired / unknown, nothing else",
           description=CARD_CHECK_LIMIT, body=CardCheckSchema, response=CardVerdictOut,
           errors=(429,))
    def check_card(self, request):
        user = self.auth.user(request)
        body = read_json(request, CardCheckSchema())
        return json_response(self.membership_rpc.check_card(body, user.caller()))

    @route("GET", f"{V1}/merchants", tag=MERCHANTS, access=PUBLIC,
           summary="Partner merchants and their member price rules, a page at a time",
           query=MerchantListQuery, response=MerchantPageOut)
    def list_merchants(self, request):
        query = read_query(request, MerchantListQuery())
        return json_response(self.membership_rpc.merchants(query))

    @route("POST", f"{V1}/merchants", tag=MERCHANTS, access=WRITE, status=201,
           summary="Register a partner merchant (an organization the registry knows)",
           description="Rules: `percent_off` (1-90) or `cost_plus` with `markup_fen` (the "
                       "union supermarket: cost + 100 fen).",
           body=MerchantSchema, response=MerchantOut, errors=(404,))
    def register_merchant(self, request):
        user = self.auth.user(request, WRITE)
        body = read_json(request, MerchantSchema())
        return json_response(self.membership_rpc.register_merchant(body, user.caller()),
                             status=201)

    @route("POST", f"{V1}/merchants/<int:merchant_id>/purchase-checks", tag=MERCHANTS,
           access=TOKEN, summary="The price a card holder pays at this merchant",
           description="The discount applies only for a valid card; the answer says only "
                       "valid / expired / unknown about the card. Amounts in fen (分). "
                       + CARD_CHECK_LIMIT,
           body=PurchaseSchema, response=PurchaseOut, errors=(429,))
    def check_purchase(self, request, merchant_id):
        user = self.auth.user(request)
        body = read_json(request, PurchaseSchema())
        return json_response(self.membership_rpc.check_purchase(
            _id(merchant_id, "merchant"), body, user.caller()))

    # --- member services ---------------------------------------------------------------

    @route("POST", f"{V1}/service-requests", tag=SERVICES, access=WRITE, status=201,
           summary="Record a member's request; their union handles it unless one is named",
           body=ServiceRequestSchema, response=ServiceRequestOut, errors=(404, 409),
           idempotent=True)
    def submit_service_request(self, request):
        user = self.auth.user(request, WRITE)
        body = read_json(request, ServiceRequestSchema())
        return json_response(self.membership_rpc.submit_service_request(
            body, user.caller(), idempotency=self.auth.idempotency(request, user.scope)),
            status=201)

    @route("GET", f"{V1}/service-requests", tag=SERVICES, access=READ,
           summary="Requests an organization handles, oldest first, a page at a time",
           description="Page on with cursor = the previous page's next_cursor (null on "
                       "the last page).",
           query=RequestListQuery, response=ServiceRequestPageOut)
    def list_service_requests(self, request):
        user = self.auth.user(request, READ)
        query = read_query(request, RequestListQuery())
        return json_response(self.membership_rpc.service_requests(query, user.caller()))

    @route("GET", f"{V1}/service-requests/<int:request_id>", tag=SERVICES, access=READ,
           summary="One member service request", response=ServiceRequestOut)
    def get_service_request(self, request, request_id):
        user = self.auth.user(request, READ)
        return json_response(self.membership_rpc.service_request(
            _id(request_id, "service request"), user.caller()))

    @route("PATCH", f"{V1}/service-requests/<int:request_id>", tag=SERVICES, access=WRITE,
           summary="Change a request's status or hand it to another organization",
           body=ServiceRequestUpdateSchema, response=ServiceRequestOut, errors=(409,))
    def update_service_request(self, request, request_id):
        user = self.auth.user(request, WRITE)
        body = read_json(request, ServiceRequestUpdateSchema())
        return json_response(self.membership_rpc.update_service_request(
            _id(request_id, "service request"), body, user.caller()))
