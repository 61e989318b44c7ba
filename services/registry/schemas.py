"""Input schemas of the registry's RPC API (and of import rows).

Absent optional fields mean "not stated" (no ``load_default``): an update or a re-import
changes only what it states (see ``domain.merge_enterprise``). Every rejection becomes an
``InvalidInput`` whose ``details`` name the fields, via ``load``.
"""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.registry import domain
from shared import creditcode as shared_creditcode
from shared.errors import InvalidInput
from shared.events.registry import ORGANIZATION_KINDS, PARTY_KINDS, UNION_STATUSES


class Code(fields.String):
    """An organization code: a stable slug such as ``longgang.bantian.nankeng``."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        problem = domain.code_problem(value)
        if problem:
            raise ValidationError(problem)
        return value


CreditCode = shared_creditcode.CreditCode  # 统一社会信用代码, check digit verified


def text(max_length, **kwargs):
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


class PartyOrganizationInput(Schema):
    name = text(200, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS))


class ContactInput(Schema):
    name = text(100, required=True)
    role = text(100, required=True)
    phone = fields.String(allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9][0-9 ()-]{4,30}$", error="a phone number has digits, spaces, +, -, ( )"))
    email = fields.Email(allow_none=True)
    webhook_url = fields.Url(allow_none=True, schemes={"http", "https"}, require_tld=False)

    @validates_schema
    def reachable(self, data, **kwargs):
        if not any(data.get(name) for name in ("phone", "email", "webhook_url")):
            raise ValidationError("a contact needs a phone, an email or a webhook_url",
                                  "_schema")


CONTACTS = validate.Length(max=20, error="at most {max} contacts per organization")


class OrganizationInput(Schema):
    code = Code(required=True)
    name = text(200, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    parent_code = Code(allow_none=True, load_default=None)
    party_organization = fields.Nested(PartyOrganizationInput, allow_none=True,
                                       load_default=None)
    enterprise_credit_code = CreditCode(allow_none=True, load_default=None)
    contacts = fields.List(fields.Nested(ContactInput), load_default=list, validate=CONTACTS)


class OrganizationChanges(Schema):
    name = text(200)
    party_organization = fields.Nested(PartyOrganizationInput, allow_none=True)


class ContactsInput(Schema):
    contacts = fields.List(fields.Nested(ContactInput), required=True, validate=CONTACTS)


class LeaderInput(Schema):
    """挂点领导: the official assigned to a key enterprise."""

    name = text(100, required=True)
    title = fields.String(allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))


class EnterpriseInput(Schema):
    credit_code = CreditCode(required=True)
    name = text(200, required=True)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    community_code = Code(required=True)
    headcount = fields.Integer(required=True, validate=validate.Range(min=0, max=1_000_000))
    union_status = fields.String(validate=validate.OneOf(UNION_STATUSES))
    union_code = Code(allow_none=True)
    # Truthy/falsy also in Chinese: import files come from spreadsheets.
    key_enterprise = fields.Boolean(
        allow_none=True,
        truthy=fields.Boolean.truthy | {"是", "Y", "y"},
        falsy=fields.Boolean.falsy | {"否", "N", "n"},
    )
    assigned_leader = fields.Nested(LeaderInput, allow_none=True)


ENTERPRISE_CHANGES = ("name", "address", "headcount", "union_status", "union_code",
                      "key_enterprise", "assigned_leader")


class CloseInput(Schema):
    reason = text(500, required=True)


class PageInput(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


organization_input = OrganizationInput()
organization_changes = OrganizationChanges()
contacts_input = ContactsInput()
enterprise_input = EnterpriseInput()
enterprise_changes = EnterpriseInput(only=ENTERPRISE_CHANGES, partial=True)
close_input = CloseInput()
page_input = PageInput()


def load(schema, data, message, partial=None):
    """``schema.load`` that raises InvalidInput with the field messages as details."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{message}: expected an object, got {type(data).__name__}")
    try:
        return schema.load(data, partial=partial)
    except ValidationError as exc:
        raise InvalidInput(message, exc.messages) from None


_credit_code_argument = Schema.from_dict({"credit_code": CreditCode(required=True)})()
_code_arguments = {
    name: Schema.from_dict({name: Code(required=True)})()
    for name in ("code", "parent_code", "community_code")
}


def credit_code(value) -> str:
    """A credit code given as an argument (get_enterprise, ...), checked."""
    return load(_credit_code_argument, {"credit_code": value},
                "credit code rejected")["credit_code"]


def organization_code(value, name="code") -> str:
    """An organization code given as an argument, checked; ``name`` is the argument's."""
    return load(_code_arguments[name], {name: value}, f"{name} rejected")[name]
