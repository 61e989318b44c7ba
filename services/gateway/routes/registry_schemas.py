"""Request and response schemas of the registry routes.

Responses reuse the event contract's snapshots (``shared.events.registry``): what the API
returns for an organization or an enterprise is what consumers receive in events.
Requests are the gateway's own, strict about shape and size; the registry still decides
the domain rules (tiers, coverage, credit-code checks) and its errors pass through.
"""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events.registry import (
    ORGANIZATION_KINDS,
    PARTY_KINDS,
    UNION_STATUSES,
    EnterpriseSchema,
    OrganizationSchema,  # noqa: F401  (re-exported for the routes)
)

# Codes appear in URLs: no slashes or blanks, and short. The registry checks the rest.
CODE_MAX_LENGTH = 100
CODE = validate.Regexp(r"^[^/\s]{1,100}$", error="must be 1-100 characters without / or blanks")
NAME = validate.Length(min=1, max=200)
MAX_CONTACTS = 50
MAX_IMPORT_ROWS = 5000


class _Changes(Schema):
    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("send at least one field to change", "_schema")


class PartyOrganizationInSchema(Schema):
    name = fields.String(required=True, validate=NAME)
    kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS))


class NewOrganizationSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME)
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    parent_code = fields.String(required=True, validate=CODE, metadata={
        "description": "must lie within the caller's subtree"})
    party_organization = fields.Nested(PartyOrganizationInSchema, allow_none=True)
    enterprise_credit_code = fields.String(allow_none=True, validate=CODE)


class OrganizationChangesSchema(_Changes):
    name = fields.String(validate=NAME)
    kind = fields.String(validate=validate.OneOf(ORGANIZATION_KINDS))
    party_organization = fields.Nested(PartyOrganizationInSchema, allow_none=True)
    enterprise_credit_code = fields.String(allow_none=True, validate=CODE)


class OrganizationMoveSchema(Schema):
    parent_code = fields.String(required=True, validate=CODE, metadata={
        "description": "the new parent; must lie within the caller's subtree"})


class ContactInSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9][0-9 ()-]{2,30}$", error="must be a phone number"))
    email = fields.Email(allow_none=True, validate=validate.Length(max=200))
    webhook_url = fields.Url(allow_none=True, schemes={"http", "https"}, require_tld=False,
                             validate=validate.Length(max=500))


class ContactsInSchema(Schema):
    contacts = fields.List(fields.Nested(ContactInSchema), required=True,
                           validate=validate.Length(max=MAX_CONTACTS))


class ContactOutSchema(Schema):
    name = fields.String(required=True)
    role = fields.String(required=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    webhook_url = fields.String(allow_none=True)


class ContactsSchema(Schema):
    code = fields.String(required=True)
    contacts = fields.List(fields.Nested(ContactOutSchema), required=True)


class LeaderInSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    title = fields.String(allow_none=True, validate=validate.Length(max=100))
    phone = fields.String(allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9][0-9 ()-]{2,30}$", error="must be a phone number"))


class NewEnterpriseSchema(Schema):
    credit_code = fields.String(required=True, validate=CODE, metadata={
        "description": "统一社会信用代码 (18 characters); the registry checks it"})
    name = fields.String(required=True, validate=NAME)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    community_code = fields.String(required=True, validate=CODE, metadata={
        "description": "the community or park; must lie within the caller's subtree"})
    headcount = fields.Integer(required=True, strict=True,
                               validate=validate.Range(min=0, max=10_000_000))
    union_status = fields.String(required=True, validate=validate.OneOf(UNION_STATUSES))
    union_code = fields.String(allow_none=True, validate=CODE)
    key_enterprise = fields.Boolean(load_default=False)
    assigned_leader = fields.Nested(LeaderInSchema, allow_none=True)


class EnterpriseChangesSchema(_Changes):
    name = fields.String(validate=NAME)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    headcount = fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000_000))
    union_status = fields.String(validate=validate.OneOf(UNION_STATUSES))
    union_code = fields.String(allow_none=True, validate=CODE)
    key_enterprise = fields.Boolean()
    assigned_leader = fields.Nested(LeaderInSchema, allow_none=True)


class EnterpriseMoveSchema(Schema):
    community_code = fields.String(required=True, validate=CODE, metadata={
        "description": "the new community or park; must lie within the caller's subtree"})


class EnterpriseCloseSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class EnterpriseListQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))


class EnterprisePageSchema(Schema):
    items = fields.List(fields.Nested(EnterpriseSchema), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class StatisticsSchema(Schema):
    code = fields.String(required=True)
    enterprises = fields.Integer(required=True)
    workers = fields.Integer(required=True)
    own_union = fields.Integer(required=True, metadata={"description": "单独建会"})
    covered = fields.Integer(required=True, metadata={"description": "联合会覆盖"})
    establishment_rate = fields.Float(required=True, metadata={
        "description": "建会率 = (own_union + covered) / enterprises"})


class ChainUnionSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)


class ChainLinkSchema(Schema):
    """One level of the chain: the union organization and its party organization."""

    tier = fields.String(required=True)
    union = fields.Nested(ChainUnionSchema, required=True)
    party_organization = fields.Nested(PartyOrganizationInSchema, allow_none=True)
    contacts = fields.List(fields.Nested(ContactOutSchema), required=True)


class ImportRowResultSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "0-based index in the body"})
    status = fields.String(required=True)
    credit_code = fields.String(allow_none=True)
    errors = fields.Raw(allow_none=True)


class ImportReportSchema(Schema):
    rows = fields.List(fields.Nested(ImportRowResultSchema), required=True)
