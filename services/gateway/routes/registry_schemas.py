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
    LeaderSchema,
    OrganizationSchema,  # noqa: F401  (re-exported for the routes)
)

# Codes appear in URLs: no slashes or blanks, and short. The registry checks the rest.
CODE_MAX_LENGTH = 100
CODE = validate.Regexp(r"^[^/\s]{1,100}$", error="must be 1-100 characters without / or blanks")
NAME = validate.Length(min=1, max=200)
HEADCOUNT = validate.Range(min=0, max=1_000_000)
MAX_CONTACTS = 20
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
    code = fields.String(required=True, validate=CODE, metadata={
        "description": "lowercase slug, e.g. longgang.bantian.nankeng"})
    name = fields.String(required=True, validate=NAME)
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    parent_code = fields.String(required=True, validate=CODE, metadata={
        "description": "must lie within the caller's subtree"})
    party_organization = fields.Nested(PartyOrganizationInSchema, allow_none=True, metadata={
        "description": "required for federations (党管工会)"})
    enterprise_credit_code = fields.String(allow_none=True, validate=CODE, metadata={
        "description": "for an enterprise_union: its enterprise"})
    contacts = fields.List(fields.Nested(lambda: ContactInSchema()),
                           validate=validate.Length(max=MAX_CONTACTS))


class OrganizationChangesSchema(_Changes):
    name = fields.String(validate=NAME)
    party_organization = fields.Nested(PartyOrganizationInSchema, allow_none=True)


class OrganizationMoveSchema(Schema):
    parent_code = fields.String(required=True, validate=CODE, metadata={
        "description": "the new parent; must lie within the caller's subtree"})


class ContactInSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9][0-9 ()-]{4,30}$", error="must be a phone number"))
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
    title = fields.String(allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))


class NewEnterpriseSchema(Schema):
    credit_code = fields.String(required=True, validate=CODE, metadata={
        "description": "统一社会信用代码 (18 characters); the registry checks it"})
    name = fields.String(required=True, validate=NAME)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    community_code = fields.String(required=True, validate=CODE, metadata={
        "description": "the community or park; must lie within the caller's subtree"})
    headcount = fields.Integer(required=True, strict=True,
                               validate=HEADCOUNT)
    union_status = fields.String(validate=validate.OneOf(UNION_STATUSES), metadata={
        "description": "default none; own needs 25+ workers"})
    union_code = fields.String(allow_none=True, validate=CODE, metadata={
        "description": "default: the community (covered) or a new enterprise union (own)"})
    key_enterprise = fields.Boolean(allow_none=True, metadata={
        "description": "default: true from 500 workers"})
    assigned_leader = fields.Nested(LeaderInSchema, allow_none=True, metadata={
        "description": "挂点领导, only for a key enterprise"})


class ImportRowSchema(NewEnterpriseSchema):
    """A row of a bulk import: an upsert by credit code, so for an enterprise already
    registered only the credit code is needed and the fields given are changed."""

    name = fields.String(validate=NAME, metadata={"description": "required for a new one"})
    community_code = fields.String(validate=CODE, metadata={
        "description": "required for a new one; a different one moves the enterprise; "
                       "must lie within the caller's subtree"})
    headcount = fields.Integer(strict=True, validate=HEADCOUNT, metadata={
        "description": "required for a new one"})


class EnterpriseChangesSchema(_Changes):
    name = fields.String(validate=NAME)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    headcount = fields.Integer(strict=True, validate=HEADCOUNT)
    union_status = fields.String(validate=validate.OneOf(UNION_STATUSES))
    union_code = fields.String(allow_none=True, validate=CODE)
    key_enterprise = fields.Boolean(allow_none=True)
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
    code = fields.String(required=True)
    items = fields.List(fields.Nested(EnterpriseSchema), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class StatisticsSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
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


class ChainEnterpriseSchema(Schema):
    credit_code = fields.String(required=True)
    name = fields.String(required=True)
    key_enterprise = fields.Boolean(required=True)
    status = fields.String(required=True)


class ChainSchema(Schema):
    code = fields.String(allow_none=True, metadata={"description": "the organization asked"})
    credit_code = fields.String(allow_none=True)
    enterprise = fields.Nested(ChainEnterpriseSchema, allow_none=True)
    assigned_leader = fields.Nested(LeaderSchema, allow_none=True, metadata={
        "description": "挂点领导 of a key enterprise"})
    chain = fields.List(fields.Nested(ChainLinkSchema), required=True, metadata={
        "description": "from the nearest organization (the enterprise's own union, if any) "
                       "up to the district"})


class ImportErrorSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "1-based position in the body"})
    credit_code = fields.String(allow_none=True)
    reason = fields.String(required=True)


class ImportReportSchema(Schema):
    rows = fields.Integer(required=True)
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True, metadata={"description": "updated or moved"})
    unchanged = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    errors = fields.List(fields.Nested(ImportErrorSchema), required=True)
