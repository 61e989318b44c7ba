"""Routes backed by the disputes service: reports, cases, visits, rewards, statistics, and
the public report form (``/disputes/report``, Chinese, for phones).

Needs ``self.disputes_rpc`` (a ``BackendRpc("disputes")``) and ``self.auth``.

Two kinds of caller:

- informants: anyone may report anonymously (``POST /api/v1/disputes/reports``, answered
  with a receipt code shown once); information officers send their own token
  (``ghi_...``, issued by staff) as ``Authorization: Bearer`` to
  ``/api/v1/disputes/officer-reports`` and ``/api/v1/disputes/my/...``, or sign in to
  the pages with the gateway account made with their registration (role ``officer``):
  the gateway keeps that account's officer token hash (never the token) and sends it
  for them. The disputes service checks officer token hashes, not the gateway.
- staff users (gateway tokens): the gateway checks the role, then passes the user to the
  disputes service as the caller (``user.caller()``), which knows each case's place in
  the tree and enforces the subtree (403) itself, as well as the roles of the acts only
  an admin may do (revealing an identity, approving and paying rewards, publishing a
  policy).

Bodies and queries are checked with the disputes contract's schemas
(``shared/api/disputes.py``) before the service is asked, and sent on as they came; the
service's answers are already dumped by the same contract and pass through as they are,
but for a report's answer, from which the informant gets no case id.

Rate limits (429) count per officer and per source address.

Nothing an informant could be known by crosses the broker in clear (issue 12): a name
and phone are sealed here to disputes' public key (``shared.sealing``; this process
cannot open them), officers' tokens and receipt codes are made here and only their hashes
travel (the codes' keyed with ``GATEWAY_PII_KEY``), and the client's address becomes a
keyed hash too. The token or code is added to the HTTP answer here.
"""

import json
import os
import re
import uuid

from services.gateway import accounts, pages, sessions
from services.gateway.api import PUBLIC, TOKEN, route
from services.gateway.auth import READ, WRITE, base_url, bearer_token, trusted_proxies
from services.gateway.dependencies import address_ref, gateway_keys, receipt_code, receipt_ref
from services.gateway.routes.registry import V1
from services.gateway.schemas import (
    OfficerRegistrationSchema,
    RegisteredOfficerAccountSchema,
)
from shared import idempotency, pii, receipts, sealing
from shared.api import disputes as contract
from shared.errors import Conflict, InvalidInput, NotFound
from shared.paging import CursorQuery
from shared.timeutil import now_utc
from shared.web import json_response, read_json, read_query

DISPUTES = "disputes"
BASE = f"{V1}/disputes"
CASE_ID = re.compile(r"^[0-9a-f]{32}$")
PSEUDONYM = re.compile(r"^I-[2-9A-Z]{8}$")
RATE_LIMITED = (429,)


def case_id_of(value: str) -> str:
    """Case ids are 32 hex digits: anything else names nothing (404 without asking)."""
    if not CASE_ID.match(value):
        raise NotFound(f"no case {value[:40]}")
    return value


def positive(value: int, what: str) -> int:
    if value < 1:
        raise NotFound(f"no {what} {value}")
    return value


def receipt(filed: dict, code: str | None = None) -> dict:
    """What an informant is told of a report filed (``ReportReceiptSchema``): no case;
    the receipt ``code`` made here if disputes filed the report with it."""
    told = {name: filed[name] for name in contract.ReportReceiptSchema().fields
            if name in filed}
    if code and filed.get("receipt"):
        told["receipt_code"] = receipts.format_code(code)
    return told


_SECRETS = {}


class InformantSecrets:
    """What the gateway turns informants' secrets into before they cross the broker:
    seals (``shared.sealing``, public key only) and keyed hashes (``GATEWAY_PII_KEY``,
    the same on every replica: rate limits and receipt lookups depend on it; changing
    it makes earlier receipt codes unknown)."""

    def __init__(self, config):
        self.sealer = sealing.load_sealer(config)
        self.keys = gateway_keys(config)

    def seal(self, real_name: str, phone: str | None) -> str:
        return self.sealer.seal({"real_name": real_name, "phone": phone})

    def resubmission(self, address: str | None, report: dict) -> str | None:
        """What recognises the same report sent again by the same client: a keyed hash
        of the client's address and the report as loaded (spacing and order of the JSON
        aside). None without an address."""
        if not address:
            return None
        text = json.dumps(report, ensure_ascii=False, sort_keys=True, default=str)
        return self.keys.lookup_hash(f"resubmission:{address}\x00{text}")


def informant_secrets(config) -> InformantSecrets:
    """One per process and setting (read once: the keys never change while it runs)."""
    settings = tuple(config.get(name) or os.environ.get(name) for name in (
        sealing.PUBLIC_SETTING, pii.setting_name("gateway"), "GONGHUI_VAR_DIR"))
    if settings not in _SECRETS:
        _SECRETS[settings] = InformantSecrets(config)
    return _SECRETS[settings]




class DisputesRoutes:
    api_tags = [
        {"name": DISPUTES, "description": "Dispute early warning: informants' reports, "
                                          "cases, visits, rewards (奖励办法), statistics."},
    ]

    def officer_token_hash(self, request) -> str:
        """All that travels of the officer: their bearer token's SHA-256, or the one kept
        for the signed-in officer's account (a change brings its CSRF token along)."""
        if request.headers.get("Authorization") or \
                not request.cookies.get(sessions.SESSION_COOKIE):
            return contract.officer_token_hash(
                bearer_token(request.headers.get("Authorization")))
        user = self.auth.user(request)
        with self.db.session() as session:
            return accounts.officer_token_hash_of(session, user)

    def file_officer_report(self, request, data) -> dict:
        """File ``data`` (loaded by ``contract.ReportSchema``) as the calling officer."""
        hashed = self.officer_token_hash(request)
        if data.get("identity"):
            raise InvalidInput("an officer's identity is on file; send no identity",
                               {"identity": ["only for anonymous reports"]})
        data.pop("identity", None)
        return receipt(self.disputes_rpc.submit_report(
            data, officer_token_hash=hashed,
            source=address_ref(self.config, self.auth.client_address(request)),
            request_id=uuid.uuid4().hex,
            idempotency=self.auth.idempotency(request, f"officer:{hashed}")))

    # --- informants -----------------------------------------------------------------

    @route("GET", "/disputes/report", tag=DISPUTES, access=PUBLIC, backend=False,
           summary="The report form (Chinese, for phones): report, receipt, status",
           extra={"responses": {"200": {"description": "an HTML page", "content": {
               "text/html": {"schema": {"type": "string"}}}}}})
    def report_form(self, request):
        district = self.config.get("GATEWAY_DISTRICT_CODE", "longgang")
        # The page's headers (pages.PAGE_HEADERS): nothing from elsewhere, and no referrer,
        # so an anonymous informant leaves no trail. A signed-in officer's account gets
        # the form that reports as them (their session, its CSRF token, no token to
        # paste) and the console's navigation; anyone else the anonymous form.
        signed = self.auth.session(request)
        if signed is None or signed[0].role != accounts.OFFICER:
            return pages.render("disputes_report.html", district=district)
        officer, csrf_token = signed
        return pages.render("disputes_report.html", district=district, officer=officer,
                            user=officer, csrf_token=csrf_token,
                            nav=pages.navigation(officer, request.path))

    @route("POST", f"{BASE}/reports", tag=DISPUTES, access=PUBLIC, status=201,
           summary="Report a hidden danger anonymously; the receipt code is shown once",
           description="The same report sent again from the same client within "
                       "10 minutes (no answer seen, a double tap) is not filed twice: "
                       "the answer is a 200 saying it was already received, without the "
                       "receipt code (whoever sent the first has it). With an "
                       "`Idempotency-Key`, a retry gets the first answer, code included.",
           body=contract.ReportSchema, response=contract.ReportReceiptSchema,
           errors=(404, *RATE_LIMITED), idempotent=True, extra={"responses": {"200": {
               "description": "Already received: this client sent the same report "
                              "minutes ago; nothing filed, no code",
               "content": {"application/json": {
                   "schema": contract.AlreadyReceivedSchema}}}}})
    def report_anonymously(self, request):
        report = read_json(request, contract.ReportSchema())
        secrets_ = informant_secrets(self.config)
        data = dict(read_json(request))
        identity = data.pop("identity", None)
        if identity:  # loaded above: a real_name, a phone or None
            data["sealed_identity"] = secrets_.seal(identity["real_name"],
                                                    identity.get("phone"))
        address = self.auth.client_address(request)
        ref = self.auth.idempotency(request, idempotency.ANONYMOUS)
        # The id and the receipt code are made here, once per HTTP request: if the broker
        # hands the request to disputes twice (a restart mid-call), the second run answers
        # with the first one's report instead of filing again. Only the code's keyed hash
        # goes to disputes.
        code = receipt_code(self.config, ref, "disputes.report")
        result = self.disputes_rpc.submit_report(
            data, source=address_ref(self.config, address), request_id=uuid.uuid4().hex,
            receipt_ref=receipt_ref(self.config, code), idempotency=ref,
            resubmission=secrets_.resubmission(address, report))
        if result.get("already_received"):
            return json_response(result)
        return json_response(receipt(result, code), status=201)

    @route("POST", f"{BASE}/officer-reports", tag=DISPUTES, access=TOKEN, status=201,
           summary="Report as an information officer (officer token ghi_..., or signed "
                   "in to the officer's account)",
           body=contract.ReportSchema, response=contract.ReportReceiptSchema,
           errors=(404, *RATE_LIMITED), idempotent=True)
    def report_as_officer(self, request):
        read_json(request, contract.ReportSchema())
        return json_response(self.file_officer_report(request, dict(read_json(request))),
                             status=201)

    @route("POST", f"{BASE}/receipts/status", tag=DISPUTES, access=PUBLIC,
           summary="Follow an anonymous report by its receipt code (sent in the body, so "
                   "it stays out of URLs and logs)",
           body=contract.ReceiptSchema, response=contract.ReceiptStatusSchema,
           errors=(404, *RATE_LIMITED))
    def receipt_status(self, request):
        data = read_json(request, contract.ReceiptSchema())
        return json_response(self.disputes_rpc.receipt_status(
            receipt_ref(self.config, data["receipt_code"]),
            source=address_ref(self.config, self.auth.client_address(request))))

    @route("GET", f"{BASE}/my/reports", tag=DISPUTES, access=TOKEN,
           summary="An officer's own reports and how far each case has come",
           query=CursorQuery, response=contract.OfficerReportPageSchema)
    def my_reports(self, request):
        page = read_query(request, CursorQuery())
        return json_response(self.disputes_rpc.my_reports(self.officer_token_hash(request),
                                                          page))

    @route("GET", f"{BASE}/my/rewards", tag=DISPUTES, access=TOKEN,
           summary="An officer's own reward ledger (nobody else's)",
           query=CursorQuery, response=contract.RewardPageSchema)
    def my_rewards(self, request):
        page = read_query(request, CursorQuery())
        return json_response(self.disputes_rpc.my_rewards(
            officer_token_hash=self.officer_token_hash(request), query=page))

    @route("POST", f"{BASE}/officers", tag=DISPUTES, access=WRITE, status=201,
           summary="Register an information officer; their token is shown once; with a "
                   "`user_name`, a gateway account for them and its one-time password link",
           body=OfficerRegistrationSchema, response=RegisteredOfficerAccountSchema,
           errors=(404, 409))
    def register_officer(self, request):
        user = self.auth.user(request, WRITE)
        officer = read_json(request, OfficerRegistrationSchema())
        return json_response(RegisteredOfficerAccountSchema().dump(
            self.registered_officer(request, user, officer)), status=201)

    def registered_officer(self, request, user, officer) -> dict:
        """Register ``officer`` (``OfficerRegistrationSchema``) with disputes as ``user``,
        and make the officer's account when a ``user_name`` is given."""
        name = officer.get("user_name", "").strip() or None
        if name:
            with self.db.session() as session:
                if accounts.name_taken(session, name):  # before the officer exists
                    raise Conflict(f"user {name!r} already exists", {"user_name": name})
        # Made here and shown once: only its hash, and the sealed name, cross the broker.
        token = contract.new_officer_token()
        hashed = contract.officer_token_hash(token)
        registered = self.disputes_rpc.register_officer({
            "organization_code": officer["organization_code"],
            "sealed_identity": informant_secrets(self.config).seal(officer["real_name"],
                                                                   officer["phone"]),
            "token_hash": hashed}, user.caller())
        answer = dict(registered, token=token, user=None, password_link=None)
        if name:
            try:
                with self.db.changes() as uow:  # a name taken meanwhile: 409
                    account = accounts.create_officer_account(
                        uow.session, name, officer["organization_code"],
                        registered["informant"], hashed)
                    secret, expires_at = sessions.issue_password_link(
                        uow.session, account, user.name, now_utc())
            except Exception:
                # The officer is registered but nobody will be shown the token: revoke
                # it, so the error's "nothing was done" holds and no token lives unseen.
                self.disputes_rpc.revoke_officer(registered["informant"], user.caller())
                raise
            answer.update(user=account.profile(), password_link={
                "name": name, "url": sessions.link_url(
                    base_url(request, trusted_proxies(self.config)), secret),
                "expires_at": expires_at})
        return answer

    @route("DELETE", f"{BASE}/officers/<informant>", tag=DISPUTES, access=WRITE,
           summary="Revoke an information officer's token",
           response=contract.RevokedOfficerSchema)
    def revoke_officer(self, request, informant):
        user = self.auth.user(request, WRITE)
        if not PSEUDONYM.match(informant):
            raise NotFound(f"no information officer {informant[:40]}")
        return json_response(self.disputes_rpc.revoke_officer(informant, user.caller()))

    @route("POST", f"{BASE}/identity-reveals", tag=DISPUTES, access=WRITE,
           summary="Reveal who an informant is (admin only; audited, with a reason)",
           body=contract.RevealSchema, response=contract.RevealedIdentitySchema,
           errors=(404,))
    def reveal_identity(self, request):
        user = self.auth.user(request, WRITE)
        read_json(request, contract.RevealSchema())
        return json_response(self.disputes_rpc.reveal_identity(read_json(request),
                                                               user.caller()))

    # --- cases ------------------------------------------------------------------------

    @route("GET", f"{BASE}/cases", tag=DISPUTES, access=READ,
           summary="Cases within the caller's subtree, newest first",
           query=contract.CaseQuerySchema, response=contract.CasePageSchema)
    def list_cases(self, request):
        user = self.auth.user(request, READ)
        query = read_query(request, contract.CaseQuerySchema())
        return json_response(self.disputes_rpc.list_cases(user.caller(), query))

    @route("GET", f"{BASE}/cases/<case_id>", tag=DISPUTES, access=READ,
           summary="A case with its reports (pseudonyms), timeline and rewards",
           response=contract.CaseDetailSchema)
    def get_case(self, request, case_id):
        user = self.auth.user(request, READ)
        return json_response(self.disputes_rpc.get_case(case_id_of(case_id),
                                                        user.caller()))

    @route("POST", f"{BASE}/cases/<case_id>/transitions", tag=DISPUTES, access=WRITE,
           summary="Move a case one step: verified | rejected | handling | resolved | "
                   "closed", body=contract.TransitionInSchema,
           response=contract.CaseDetailSchema, errors=(409,))
    def change_status(self, request, case_id):
        user = self.auth.user(request, WRITE)
        read_json(request, contract.TransitionInSchema())
        case_id = case_id_of(case_id)
        data = dict(read_json(request))
        status = data.pop("status")
        return json_response(self.disputes_rpc.change_status(case_id, status, data,
                                                             user.caller()))

    @route("POST", f"{BASE}/visits", tag=DISPUTES, access=WRITE, status=201,
           summary="Record an enterprise visit, revisit or interview; it feeds grading",
           body=contract.VisitSchema, response=contract.VisitRecordedSchema, errors=(404,))
    def record_visit(self, request):
        user = self.auth.user(request, WRITE)
        read_json(request, contract.VisitSchema())
        recorded = self.disputes_rpc.record_visit(read_json(request), user.caller())
        return json_response(recorded, status=201)

    # --- rewards, policies, statistics ------------------------------------------------

    @route("GET", f"{BASE}/rewards", tag=DISPUTES, access=READ,
           summary="The reward ledger of cases within the caller's subtree",
           query=contract.RewardQuerySchema, response=contract.RewardPageSchema)
    def list_rewards(self, request):
        user = self.auth.user(request, READ)
        query = read_query(request, contract.RewardQuerySchema())
        return json_response(self.disputes_rpc.list_rewards(user.caller(), query))

    @route("POST", f"{BASE}/rewards/<int:reward_id>/approve", tag=DISPUTES, access=WRITE,
           summary="Approve a pending reward (admin)", response=contract.RewardSchema,
           errors=(409,))
    def approve_reward(self, request, reward_id):
        user = self.auth.user(request, WRITE)
        return json_response(self.disputes_rpc.approve_reward(
            positive(reward_id, "reward"), user.caller()))

    @route("POST", f"{BASE}/rewards/<int:reward_id>/pay", tag=DISPUTES, access=WRITE,
           summary="Mark an approved reward paid (admin; after an audited reveal)",
           response=contract.RewardSchema, errors=(409,))
    def pay_reward(self, request, reward_id):
        user = self.auth.user(request, WRITE)
        return json_response(self.disputes_rpc.pay_reward(
            positive(reward_id, "reward"), user.caller()))

    @route("GET", f"{BASE}/policies/<kind>", tag=DISPUTES, access=PUBLIC,
           summary="Every version of the grading rules or the reward rules (奖励办法); "
                   "published policy, public", query=CursorQuery,
           response=contract.PolicyPageSchema)
    def get_policies(self, request, kind):
        if kind not in contract.POLICY_KINDS:
            raise NotFound(f"no policy {kind[:40]}; known: "
                           f"{', '.join(contract.POLICY_KINDS)}")
        page = read_query(request, CursorQuery())
        return json_response(self.disputes_rpc.get_policies(kind, page))

    @route("POST", f"{BASE}/policies", tag=DISPUTES, access=WRITE, status=201,
           summary="Publish a new version of a policy, in force from a date (the district's "
                   "admins)",
           body=contract.PolicyInSchema, response=contract.PolicyPublishedSchema)
    def publish_policy(self, request):
        user = self.auth.user(request, WRITE)
        read_json(request, contract.PolicyInSchema())
        published = self.disputes_rpc.publish_policy(read_json(request), user.caller())
        return json_response(published, status=201)

    @route("GET", f"{BASE}/statistics", tag=DISPUTES, access=READ,
           summary="Disputes by tier, street, category and year; alone vs jointly; wage "
                   "flight; visits", query=contract.StatisticsQuerySchema,
           response=contract.DisputeStatisticsSchema, errors=(404,))
    def dispute_statistics(self, request):
        user = self.auth.user(request, READ)
        query = read_query(request, contract.StatisticsQuerySchema())
        return json_response(self.disputes_rpc.statistics(
            user.caller(), code=query["code"], year=query["year"]))
