"""Events published by the registry (source ``registry``, exchange ``registry.events``).

Payloads are snapshots: a consumer can upsert its read model from any one event without
asking the registry. ``path`` lists organization codes from the district down to the
organization itself (for an enterprise: down to its community or park), so "is X inside
Y's subtree" is ``Y in X.path``.

Contacts are the work contacts of union and party officials (who must hear of a dispute);
members' personal data never travels in events.
"""

from marshmallow import Schema, fields, validate

from shared.events.envelope import catalogue

ORGANIZATION_KINDS = (
    "district_federation",  # 区总工会
    "street_federation",  # 街道总工会
    "community_federation",  # 社区工会联合会 (工联会)
    "park_federation",  # 园区工联会
    "enterprise_union",  # 企业工会
    "industry_union",  # 行业工会
)
PARTY_KINDS = (
    "district_committee",  # 区委
    "street_working_committee",  # 街道党工委
    "community_party_committee",  # 社区综合党委
    "park_party_organization",  # 园区党组织
    "enterprise_party_branch",  # 企业党支部
    "industry_party_committee",  # 行业党委
)
TIERS = ("district", "street", "community", "enterprise")
UNION_STATUSES = ("own", "covered", "none")  # 单独建会 / 联合会覆盖 / 未建会
ENTERPRISE_STATUSES = ("active", "closed")


class PartyOrganizationSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS))


class ContactSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(allow_none=True, load_default=None)
    email = fields.String(allow_none=True, load_default=None)
    webhook_url = fields.String(allow_none=True, load_default=None)


class OrganizationSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    parent_code = fields.String(allow_none=True, load_default=None)
    path = fields.List(fields.String(), required=True)
    party_organization = fields.Nested(PartyOrganizationSchema, allow_none=True,
                                       load_default=None)
    enterprise_credit_code = fields.String(allow_none=True, load_default=None)


class OrganizationUpdatedSchema(OrganizationSchema):
    changed = fields.List(fields.String(), required=True)


class OrganizationMovedSchema(OrganizationSchema):
    from_parent_code = fields.String(required=True)
    to_parent_code = fields.String(required=True)


class ContactsChangedSchema(Schema):
    code = fields.String(required=True)
    contacts = fields.List(fields.Nested(ContactSchema), required=True)


class LeaderSchema(Schema):
    name = fields.String(required=True)
    title = fields.String(allow_none=True, load_default=None)
    phone = fields.String(allow_none=True, load_default=None)


class EnterpriseSchema(Schema):
    credit_code = fields.String(required=True)  # 统一社会信用代码, the enterprise's id
    name = fields.String(required=True)
    address = fields.String(allow_none=True, load_default=None)
    community_code = fields.String(required=True)  # community or park it sits in
    path = fields.List(fields.String(), required=True)  # district .. community
    headcount = fields.Integer(required=True, validate=validate.Range(min=0))
    union_status = fields.String(required=True, validate=validate.OneOf(UNION_STATUSES))
    union_code = fields.String(allow_none=True, load_default=None)  # own union or coverer
    key_enterprise = fields.Boolean(required=True)
    assigned_leader = fields.Nested(LeaderSchema, allow_none=True, load_default=None)
    status = fields.String(required=True, validate=validate.OneOf(ENTERPRISE_STATUSES))


class EnterpriseUpdatedSchema(EnterpriseSchema):
    changed = fields.List(fields.String(), required=True)
    previous = fields.Dict(required=True)  # old values of the changed fields


class EnterpriseMovedSchema(EnterpriseSchema):
    from_community_code = fields.String(required=True)
    from_path = fields.List(fields.String(), required=True)


class EnterpriseClosedSchema(EnterpriseSchema):
    reason = fields.String(required=True)


class EnterpriseBatchImportedSchema(Schema):
    """One committed batch of a bulk import: the snapshot of every enterprise it registered
    or changed, all taken at the event's time (what one ``enterprise_registered``,
    ``enterprise_updated`` or ``enterprise_moved`` each would carry, without the per-change
    ``changed``/``previous``/``from_*`` fields)."""

    enterprises = fields.List(fields.Nested(EnterpriseSchema), required=True,
                              validate=validate.Length(min=1))


_define = catalogue.define
_define("registry", "organization_registered", OrganizationSchema,
        description="A union organization joined the tree.")
_define("registry", "organization_updated", OrganizationUpdatedSchema,
        description="Name, party organization or other attributes of an organization changed.")
_define("registry", "organization_moved", OrganizationMovedSchema,
        description="An organization (and its subtree) moved under another parent.")
_define("registry", "organization_contacts_changed", ContactsChangedSchema,
        description="The contacts who receive notifications for an organization changed.")
_define("registry", "enterprise_registered", EnterpriseSchema,
        description="An enterprise was registered with its headcount and union coverage.")
_define("registry", "enterprise_updated", EnterpriseUpdatedSchema,
        description="Headcount, union coverage, key-enterprise flag or details changed.")
_define("registry", "enterprise_moved", EnterpriseMovedSchema,
        description="An enterprise moved to another community or park.")
_define("registry", "enterprise_closed", EnterpriseClosedSchema,
        description="An enterprise closed; members' memberships lapse.")
_define("registry", "enterprise_batch_imported", EnterpriseBatchImportedSchema,
        description="A batch of a bulk import committed (5,000 rows unless told): the snapshots "
                    "of the enterprises it registered, updated or moved, in one event "
                    "instead of one event each. Own unions it created are still "
                    "organization_registered events.")
