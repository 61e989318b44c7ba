"""Events published by membership (source ``membership``, exchange ``membership.events``).

Members are named by ``worker_id`` (a number with no meaning outside membership) and
``membership_id``: ID numbers, phones, names and card numbers never travel in events.
``organization_path`` is the path of the member's enterprise (district .. community) as
the registry gave it, so a consumer can place a member without asking.
"""

from marshmallow import Schema, fields, validate

from shared.events.envelope import catalogue

MEMBERSHIP_STATUSES = ("pending", "active", "rejected", "lapsed", "transferred", "left")
CHANNELS = ("online", "staff", "import")  # 线上申请 / 工会工作人员录入 / 批量导入
SERVICE_KINDS = (
    "hardship_aid",  # 困难帮扶
    "school_aid",  # 金秋助学
    "legal_consultation",  # 法律咨询
    "counselling",  # 心理咨询
    "training",  # 技能培训
    "complaint",  # 投诉
)
SERVICE_STATUSES = ("submitted", "accepted", "in_progress", "resolved", "declined")
PRICE_RULES = ("percent_off", "cost_plus")


class MembershipSchema(Schema):
    membership_id = fields.Integer(required=True)
    worker_id = fields.Integer(required=True)
    union_code = fields.String(required=True)
    enterprise_credit_code = fields.String(required=True)
    organization_path = fields.List(fields.String(), required=True)
    status = fields.String(required=True, validate=validate.OneOf(MEMBERSHIP_STATUSES))


class MembershipAppliedSchema(MembershipSchema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))


class MembershipEndedSchema(MembershipSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class MembershipTransferredSchema(MembershipSchema):
    """The new membership, plus where the member came from (the old one is ``transferred``)."""

    from_membership_id = fields.Integer(required=True)
    from_union_code = fields.String(required=True)
    from_enterprise_credit_code = fields.String(required=True)


class Counts(fields.Dict):
    """Code -> count (a whole number, 0 or more), checked in one pass: a batch may carry
    thousands of entries and a field per entry costs ~25 us each on every publish."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=fields.Integer(), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else dict(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict) or not all(
                isinstance(key, str) and type(count) is int and count >= 0
                for key, count in value.items()):
            raise self.make_error("invalid")
        return dict(value)


class MembersImportedSchema(Schema):
    """One batch of a bulk import: new active members per union (union code -> count:
    an enterprise's own union, or the community/park federation covering it), never the
    members themselves. Per union rather than per enterprise: a batch of a district-wide
    file touches ~20,000 enterprises, and its event went through the outbox, the broker
    and every consumer at that size."""

    import_id = fields.Integer(required=True)
    batch = fields.Integer(required=True, validate=validate.Range(min=1))
    imported = fields.Integer(required=True, validate=validate.Range(min=0))
    rejected = fields.Integer(required=True, validate=validate.Range(min=0))
    counts = Counts(required=True)


class ImportedMembersSchema(Schema):
    """The members a batch made at one enterprise: ``[worker_id, membership_id]`` pairs."""

    union_code = fields.String(required=True)
    organization_path = fields.List(fields.String(), required=True)
    members = fields.List(fields.List(fields.Integer(), validate=validate.Length(equal=2)),
                          required=True)


class ImportedMembers(fields.Dict):
    """Credit code -> ``ImportedMembersSchema``, checked in one pass (like ``Counts``): a
    batch carries up to 20,000 members and a field per member would cost seconds."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=fields.Nested(ImportedMembersSchema),
                         **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return value  # plain JSON already: copying 20,000 pairs costs more than the rest

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict) or not all(
                isinstance(code, str) and _imported_at_enterprise(item)
                for code, item in value.items()):
            raise self.make_error("invalid")
        return value


def _imported_at_enterprise(item) -> bool:
    return (isinstance(item, dict) and set(item) == {"union_code", "organization_path",
                                                     "members"}
            and isinstance(item["union_code"], str)
            and isinstance(item["organization_path"], list)
            and all(isinstance(code, str) for code in item["organization_path"])
            and isinstance(item["members"], list)
            and all(isinstance(pair, list | tuple) and len(pair) == 2
                    and type(pair[0]) is int and type(pair[1]) is int
                    for pair in item["members"]))


class MemberBatchImportedSchema(Schema):
    """Who one batch of a bulk import made members, by id and place only (no names, ID
    numbers or phones): what a consumer's member read model needs to know them."""

    import_id = fields.Integer(required=True)
    batch = fields.Integer(required=True, validate=validate.Range(min=1))
    enterprises = ImportedMembers(required=True, metadata={
        "description": "credit code -> {union_code, organization_path, members: "
                       "[[worker_id, membership_id], ...]}"})


class MembershipsLapsedSchema(Schema):
    """Every membership at one enterprise lapsed at once (the enterprise closed)."""

    enterprise_credit_code = fields.String(required=True)
    organization_path = fields.List(fields.String(), required=True)
    reason = fields.String(required=True)
    lapsed = fields.Integer(required=True, validate=validate.Range(min=0))
    rejected = fields.Integer(required=True, validate=validate.Range(min=0))


class CardIssuedSchema(Schema):
    worker_id = fields.Integer(required=True)
    membership_id = fields.Integer(required=True)
    valid_until = fields.Date(required=True)
    replaces_lost_card = fields.Boolean(required=True)


class PriceRuleSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PRICE_RULES))
    percent_off = fields.Integer(allow_none=True, load_default=None)
    markup_fen = fields.Integer(allow_none=True, load_default=None)


class MerchantRegisteredSchema(Schema):
    merchant_id = fields.Integer(required=True)
    name = fields.String(required=True)
    organization_code = fields.String(required=True)  # enterprise credit code or union code
    rule = fields.Nested(PriceRuleSchema, required=True)


class ServiceRequestSchema(Schema):
    request_id = fields.Integer(required=True)
    worker_id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(SERVICE_KINDS))
    status = fields.String(required=True, validate=validate.OneOf(SERVICE_STATUSES))
    handling_organization_code = fields.String(required=True)


class ServiceRequestUpdatedSchema(ServiceRequestSchema):
    previous_status = fields.String(required=True, validate=validate.OneOf(SERVICE_STATUSES))


_define = catalogue.define
_define("membership", "membership_applied", MembershipAppliedSchema,
        description="A worker applied to join a union (online, through staff, or imported).")
_define("membership", "membership_approved", MembershipSchema,
        description="An application was approved: the worker is an active member.")
_define("membership", "membership_rejected", MembershipEndedSchema,
        description="An application was rejected, with the reason.")
_define("membership", "membership_transferred", MembershipTransferredSchema,
        description="An active member moved to another union; the old membership is kept "
                    "as history with status transferred.")
_define("membership", "membership_lapsed", MembershipEndedSchema,
        description="A membership lapsed, with the reason.")
_define("membership", "membership_left", MembershipEndedSchema,
        description="A member left the union, with the reason.")
_define("membership", "memberships_lapsed", MembershipsLapsedSchema,
        description="All memberships at an enterprise lapsed at once (the enterprise closed).")
_define("membership", "members_imported", MembersImportedSchema,
        description="A batch of a bulk import committed: new active members per union.")
_define("membership", "member_batch_imported", MemberBatchImportedSchema,
        description="The same batch of a bulk import, by member: each new active "
                    "membership's worker_id and membership_id under its enterprise, union "
                    "and place (no personal data), for consumers' member read models.")
_define("membership", "card_issued", CardIssuedSchema,
        description="A member card was issued (on approval, or to replace a lost one, which "
                    "is invalid from then on). The card number is not in the event.")
_define("membership", "merchant_registered", MerchantRegisteredSchema,
        description="A partner merchant (爱心商家) registered with its member price rule.")
_define("membership", "service_request_submitted", ServiceRequestSchema,
        description="A member asked for a service (aid, consultation, training, complaint).")
_define("membership", "service_request_updated", ServiceRequestUpdatedSchema,
        description="A member service request changed status or handling organization.")
