"""Membership's RPC contract: what each method of ``MembershipService`` takes and answers.

``services/membership/service.py`` loads every argument with these schemas and dumps
every answer with them; the gateway's ``routes/membership.py`` checks HTTP bodies and
query strings with the same schemas and documents them in ``/openapi.json``.

    enter_application(application: ApplicationSchema, caller) -> MembershipOut
    apply_online(application: ApplicationSchema) -> MembershipOut
    approve(membership_id, caller) -> MembershipOut (with its new card)
    reject | lapse | leave(membership_id, body: ReasonSchema, caller) -> MembershipOut
    transfer(membership_id, body: TransferSchema, caller) -> MembershipOut
    member(worker_id, caller) -> MemberOut
    personal_data(worker_id, caller) -> PersonalDataOut
    list_members(query: MemberListQuery, caller) -> MemberPageOut
    request_card(worker_id, body: CardRequestSchema, caller) -> CardOut
    check_card(body: CardCheckSchema, caller) -> CardVerdictOut         (rate-limited)
    register_merchant(body: MerchantSchema, caller) -> MerchantOut
    merchants(query: MerchantListQuery) -> MerchantPageOut
    check_purchase(merchant_id, body: PurchaseSchema, caller) -> PurchaseOut  (rate-limited)
    submit_service_request(body: ServiceRequestSchema, caller) -> ServiceRequestOut
    update_service_request(request_id, body: ServiceRequestUpdateSchema, caller) -> ...Out
    service_request(request_id, caller) -> ServiceRequestOut
    service_requests(query: RequestListQuery, caller) -> ServiceRequestPageOut
    join_rate(code) -> JoinRateOut
    join_rates_below(code, query: JoinRateListQuery) -> JoinRatePageOut

``caller`` is ``shared.caller.Caller.as_dict()``; ids are whole numbers from 1 to
``MAX_ID``. The shapes are checked here; membership's rules (a valid ID number's check
digit, which status may follow which, who may act where) are checked by the service.
Lists page by cursor (``shared.paging``).
"""

from marshmallow import Schema, fields, pre_load, validate

from shared.events.membership import (
    CHANNELS,
    MEMBERSHIP_STATUSES,
    PRICE_RULES,
    SERVICE_KINDS,
    SERVICE_STATUSES,
)
from shared.paging import CursorQuery, page_schema
from shared.schemas import Timestamp

# Card checks (and purchase checks, which tell the same) per gateway user: (max hits,
# window seconds). MEMBERSHIP_RATE_LIMITS overrides them: "card_check=60/60" in the
# environment, or a dict like this one in the nameko config.
RATE_LIMITS = {"card_check": (60, 60)}

MAX_ID = 2**63 - 1  # ids are bigint
MAX_FEN = 10**9  # ten million yuan: far above any member purchase
CODE_MAX_LENGTH = 100

NANKENG = "longgang.bantian.nankeng"
HUAWEI = "914403001922038216"
HUAWEI_UNION = "longgang.bantian.nankeng.u-huawei"
AT = "2026-03-02T09:30:00+08:00"


def _text(max_length, **kwargs):
    return fields.String(validate=[validate.Length(min=1, max=max_length),
                                   validate.Regexp(r"^[^\x00-\x1f\x7f]*$",
                                                   error="control characters not allowed")],
                         **kwargs)


def _code(description="an organization's code (or an enterprise's credit code)", **kwargs):
    return fields.String(validate=validate.Length(min=1, max=CODE_MAX_LENGTH),
                         metadata={"description": description, "example": NANKENG}, **kwargs)


# --- what the methods take ------------------------------------------------------------

class ApplicationSchema(Schema):
    """An application to join (入会申请). The ID number must be a valid 18-digit 居民身份证号
    (GB 11643 check digit) and the phone a mainland mobile: membership checks both and
    never repeats them in an error."""

    name = _text(100, required=True, metadata={"example": "李秀英"})
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=40),
                              metadata={"example": "44030719900101123X"})
    phone = fields.String(load_default=None, allow_none=True,
                          validate=validate.Length(max=40),
                          metadata={"example": "13800138000"})
    enterprise_credit_code = _text(100, required=True, metadata={"example": HUAWEI})

    @pre_load
    def strip(self, data, **kwargs):
        if isinstance(data, dict):
            data = dict(data)
            for key in ("name", "id_number", "phone", "enterprise_credit_code"):
                if isinstance(data.get(key), str):
                    data[key] = data[key].strip()
            if isinstance(data.get("id_number"), str):
                data["id_number"] = data["id_number"].upper()
            if data.get("phone") == "":
                data["phone"] = None
        return data


class ReasonSchema(Schema):
    reason = _text(500, required=True, metadata={"example": "本人申请退会"})


class TransferSchema(Schema):
    enterprise_credit_code = _text(100, required=True,
                                   metadata={"example": "91440300MA5F0XYZ1K"})


class CardRequestSchema(Schema):
    lost = fields.Boolean(load_default=False, metadata={
        "description": "true: the member lost their card; every earlier card stops working",
        "example": False})


class CardCheckSchema(Schema):
    card_number = fields.String(required=True, validate=validate.Length(min=1, max=40),
                                metadata={"example": "6214 8301 2345 6781"})


class PriceRuleSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PRICE_RULES),
                         metadata={"example": "percent_off"})
    percent_off = fields.Integer(load_default=None, allow_none=True,
                                 validate=validate.Range(min=1, max=90),
                                 metadata={"example": 20})
    markup_fen = fields.Integer(load_default=None, allow_none=True,
                                validate=validate.Range(min=0, max=MAX_FEN),
                                metadata={"example": None})


class MerchantSchema(Schema):
    name = _text(200, required=True, metadata={"example": "阿强理发店"})
    organization_code = _text(CODE_MAX_LENGTH, required=True, metadata={"example": NANKENG})
    rule = fields.Nested(PriceRuleSchema, required=True)


class PurchaseSchema(Schema):
    card_number = fields.String(required=True, validate=validate.Length(min=1, max=40),
                                metadata={"example": "6214830123456781"})
    price_fen = fields.Integer(required=True, strict=True,
                               validate=validate.Range(min=0, max=MAX_FEN),
                               metadata={"example": 1500})
    cost_fen = fields.Integer(load_default=None, allow_none=True, strict=True,
                              validate=validate.Range(min=0, max=MAX_FEN), metadata={
                                  "description": "needed by a cost_plus merchant",
                                  "example": 1000})


class ServiceRequestSchema(Schema):
    worker_id = fields.Integer(required=True, strict=True,
                               validate=validate.Range(min=1, max=MAX_ID),
                               metadata={"example": 1024})
    kind = fields.String(required=True, validate=validate.OneOf(SERVICE_KINDS),
                         metadata={"example": "legal_consultation"})
    summary = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                            metadata={"example": "公司拖欠三个月工资"})
    handling_organization_code = fields.String(
        load_default=None, allow_none=True,
        validate=validate.Length(min=1, max=CODE_MAX_LENGTH),
        metadata={"description": "the member's union when absent",
                  "example": "longgang.bantian"})


class ServiceRequestUpdateSchema(Schema):
    status = fields.String(load_default=None, allow_none=True,
                           validate=validate.OneOf(SERVICE_STATUSES),
                           metadata={"example": "resolved"})
    handling_organization_code = fields.String(
        load_default=None, allow_none=True,
        validate=validate.Length(min=1, max=CODE_MAX_LENGTH),
        metadata={"example": None})
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=2000), metadata={"example": "已调解"})


class MemberListQuery(CursorQuery):
    code = _code(required=True)
    status = fields.String(load_default=None, allow_none=True,
                           validate=validate.OneOf(MEMBERSHIP_STATUSES),
                           metadata={"example": "active"})


class RequestListQuery(CursorQuery):
    code = _code(required=True)
    status = fields.String(load_default=None, allow_none=True,
                           validate=validate.OneOf(SERVICE_STATUSES),
                           metadata={"example": "submitted"})
    kind = fields.String(load_default=None, allow_none=True,
                         validate=validate.OneOf(SERVICE_KINDS),
                         metadata={"example": "hardship_aid"})


class MerchantListQuery(CursorQuery):
    code = _code(load_default=None, allow_none=True,
                 description="only merchants inside this organization's subtree")


class JoinRateListQuery(CursorQuery):
    """The page of organizations directly below one."""


# --- what they answer -----------------------------------------------------------------

class CardOut(Schema):
    number = fields.String(metadata={"description": "shown once, at issue; stored hashed",
                                     "example": "6214830123456781"})
    valid_until = fields.Date(metadata={"example": "2029-03-01"})


class MembershipOut(Schema):
    membership_id = fields.Integer(metadata={"example": 5001})
    worker_id = fields.Integer(metadata={"example": 1024})
    union_code = fields.String(metadata={"example": HUAWEI_UNION})
    enterprise_credit_code = fields.String(metadata={"example": HUAWEI})
    status = fields.String(validate=validate.OneOf(MEMBERSHIP_STATUSES),
                           metadata={"example": "active"})
    channel = fields.String(validate=validate.OneOf(CHANNELS), metadata={"example": "staff"})
    applied_at = Timestamp(metadata={"example": AT})
    decided_at = Timestamp(allow_none=True, metadata={"example": "2026-03-03T10:00:00+08:00"})
    ended_at = Timestamp(allow_none=True, metadata={"example": None})
    reason = fields.String(allow_none=True, metadata={"example": None})
    previous_membership_id = fields.Integer(allow_none=True, metadata={
        "description": "the membership a transfer ended", "example": None})
    card = fields.Nested(CardOut, metadata={"description": "on approval only"})


class MemberCardOut(Schema):
    last4 = fields.String(metadata={"example": "6781"})
    status = fields.String(metadata={"example": "active"})
    valid_until = fields.Date(metadata={"example": "2029-03-01"})
    issued_at = Timestamp(metadata={"example": "2026-03-03T10:00:00+08:00"})


class MemberOut(Schema):
    worker_id = fields.Integer(metadata={"example": 1024})
    name = fields.String(metadata={"example": "李秀英"})
    id_number = fields.String(metadata={"description": "masked",
                                        "example": "440***********123X"})
    phone = fields.String(allow_none=True, metadata={"description": "masked",
                                                     "example": "138****8000"})
    memberships = fields.List(fields.Nested(MembershipOut))
    cards = fields.List(fields.Nested(MemberCardOut))


class PersonalDataOut(Schema):
    worker_id = fields.Integer(metadata={"example": 1024})
    name = fields.String(metadata={"example": "李秀英"})
    id_number = fields.String(metadata={"example": "44030719900101123X"})
    phone = fields.String(allow_none=True, metadata={"example": "13800138000"})


class JoinRateOut(Schema):
    code = fields.String(metadata={"example": NANKENG})
    members = fields.Integer(metadata={"example": 9525})
    workers = fields.Integer(metadata={"example": 10200})
    join_rate = fields.Float(allow_none=True, metadata={"example": 0.9338})
    join_rate_percent = fields.Integer(allow_none=True, metadata={"example": 93})


class CardsHeldOut(Schema):
    code = fields.String(metadata={"example": NANKENG})
    cards = fields.Integer(metadata={"example": 500})


class CardVerdictOut(Schema):
    card = fields.String(validate=validate.OneOf(("valid", "expired", "unknown")),
                         metadata={"example": "valid"})


class PurchaseOut(CardVerdictOut):
    discount_applied = fields.Boolean(metadata={"example": True})
    price_fen = fields.Integer(metadata={"example": 1500})
    pay_fen = fields.Integer(metadata={"example": 1100})


class MerchantOut(Schema):
    merchant_id = fields.Integer(metadata={"example": 1})
    name = fields.String(metadata={"example": "南坑爱心超市"})
    organization_code = fields.String(metadata={"example": NANKENG})
    rule = fields.Nested(PriceRuleSchema)


class RequestReferralOut(Schema):
    referral_id = fields.Integer(metadata={"example": 3})
    organization_id = fields.Integer(metadata={"description": "the social organization "
                                               "(incubation)", "example": 17})
    organization_name = fields.String(metadata={"example": "龙岗区彩虹职工法律服务中心"})
    status = fields.String(validate=validate.OneOf(("referred", "served", "declined")),
                           metadata={"example": "served"})


class ServiceRequestOut(Schema):
    request_id = fields.Integer(metadata={"example": 77})
    worker_id = fields.Integer(metadata={"example": 1024})
    kind = fields.String(validate=validate.OneOf(SERVICE_KINDS),
                         metadata={"example": "legal_consultation"})
    status = fields.String(validate=validate.OneOf(SERVICE_STATUSES),
                           metadata={"example": "submitted"})
    handling_organization_code = fields.String(metadata={"example": NANKENG})
    summary = fields.String(metadata={"example": "公司拖欠三个月工资"})
    note = fields.String(allow_none=True, metadata={"example": None})
    created_at = Timestamp(metadata={"example": AT})
    updated_at = Timestamp(metadata={"example": AT})
    referrals = fields.List(fields.Nested(RequestReferralOut), metadata={
        "description": "one request's view only: the social organizations incubation "
                       "referred it to, and how each ended"})


MemberPageOut = page_schema(MembershipOut)
MerchantPageOut = page_schema(MerchantOut)
ServiceRequestPageOut = page_schema(ServiceRequestOut)
JoinRatePageOut = page_schema(JoinRateOut)
