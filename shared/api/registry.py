"""The registry's RPC contract: what each method of ``RegistryService`` takes and answers.

The registry loads every argument with these schemas in its ``service.py`` and dumps
every answer with them; the gateway checks HTTP bodies and query strings with the same
schemas and documents them in ``/openapi.json``. Where a method takes a dict (``data``,
``changes``), that dict is the HTTP body of the matching route, so a field error has the
same name (``details``) over RPC and over HTTP.

Absent optional fields mean "not stated" (no ``load_default``): an update or a re-import
changes only what it states (the registry's ``domain.merge_enterprise``).

Shapes answered (``path`` lists organization codes from the district down to the
organization itself, for an enterprise down to its community or park, as in the
registry's events):

- organization: ``OrganizationWithContactsSchema`` (the public card,
  ``OrganizationSchema``, is the same without the contacts);
- enterprise: ``EnterpriseSchema``; lists: ``{"items", "next_cursor"}``
  (``shared.paging``).
"""

import re
from operator import mul

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events.registry import (
    ENTERPRISE_STATUSES,
    ORGANIZATION_KINDS,
    PARTY_KINDS,
    TIERS,
    UNION_STATUSES,
)
from shared.paging import CursorQuery, page_schema

# --- organization codes ------------------------------------------------------------------

CODE_PATTERN = r"^[a-z0-9][a-z0-9.-]*$"
CODE_MAX_LENGTH = 100
_CODE_RE = re.compile(CODE_PATTERN)


def code_problem(code) -> str | None:
    """Why ``code`` cannot be an organization code; None if it can."""
    if not isinstance(code, str) or not code:
        return "a code is required"
    if len(code) > CODE_MAX_LENGTH:
        return f"a code has at most {CODE_MAX_LENGTH} characters"
    if not _CODE_RE.match(code):
        return ("a code uses lowercase letters, digits, '.' and '-' and starts with a "
                "letter or digit, e.g. longgang.bantian.nankeng")
    return None


# --- credit codes (统一社会信用代码, GB 32100-2015) ----------------------------------------

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUE = {char: value for value, char in enumerate(CREDIT_CODE_CHARSET)}
_CREDIT_CHARS = frozenset(CREDIT_CODE_CHARSET)


def credit_code_check_digit(first17: str) -> str:
    if len(first17) != 17:
        raise ValueError(f"a check digit is computed from 17 characters, not {len(first17)}")
    # map over C functions: a third of the time of a generator, and an import checks one
    # code per row
    total = sum(map(mul, map(_CREDIT_VALUE.__getitem__, first17), CREDIT_CODE_WEIGHTS))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def credit_code_problem(code) -> str | None:
    """Why ``code`` is not a valid unified social credit code; None if it is."""
    if not isinstance(code, str):
        return "a credit code is text of 18 characters"
    if len(code) != 18:
        return f"a credit code has 18 characters, this one has {len(code)}"
    if not _CREDIT_CHARS.issuperset(code):
        for position, char in enumerate(code, start=1):
            if char not in _CREDIT_VALUE:
                return (f"character {char!r} at position {position} is not allowed (digits "
                        f"and capital letters except I, O, S, V, Z)")
    expected = credit_code_check_digit(code[:17])
    if code[17] != expected:
        return (f"check digit is {code[17]!r} but the first 17 characters give {expected!r} "
                "(GB 32100-2015): a character was probably mistyped")
    return None


def normalize_credit_code(code) -> str:
    return code.strip().upper() if isinstance(code, str) else code


# --- fields ------------------------------------------------------------------------------

DISTRICT = "longgang"
NANKENG = "longgang.bantian.nankeng"  # 南坑社区, the examples' community
CREDIT_CODE_EXAMPLE = "91440307MA5DABCD1Q"


class Code(fields.String):
    """An organization code: a stable slug such as ``longgang.bantian.nankeng``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"example": NANKENG})
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        problem = code_problem(value)
        if problem:
            raise ValidationError(problem)
        return value


class CreditCode(fields.String):
    """统一社会信用代码, upper-cased, with its GB 32100-2015 check digit verified."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"example": CREDIT_CODE_EXAMPLE})
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = normalize_credit_code(super()._deserialize(value, attr, data, **kwargs))
        problem = credit_code_problem(value)
        if problem:
            raise ValidationError(problem)
        return value


def text(max_length, example, min_length=1, **kwargs):
    return fields.String(validate=validate.Length(min=min_length, max=max_length),
                         metadata={"example": example, **kwargs.pop("metadata", {})},
                         **kwargs)


def subject_code(**metadata):
    """The code of the organization a call is about: an unknown one is a 404, not a 400."""
    return fields.String(required=True, validate=validate.Length(min=1, max=CODE_MAX_LENGTH),
                         metadata={"example": NANKENG, **metadata})


class _Changes(Schema):
    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("send at least one field to change", "_schema")


# --- organizations -----------------------------------------------------------------------

MAX_CONTACTS = 20
CONTACTS = validate.Length(max=MAX_CONTACTS, error="at most {max} contacts per organization")


class PartyOrganizationSchema(Schema):
    """The party organization leading a union organization (党管工会)."""

    name = text(200, "中共深圳市龙岗区坂田街道南坑社区综合委员会", required=True)
    kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS),
                         metadata={"example": "community_party_committee"})


class ContactSchema(Schema):
    """Whom a notice for an organization reaches: a phone, an email or a webhook."""

    name = text(100, "李主席", required=True)
    role = text(100, "工联会主席", required=True)
    phone = fields.String(allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9][0-9 ()-]{4,30}$", error="a phone number has digits, spaces, +, -, ( )"),
        metadata={"example": "0755-28000001"})
    email = fields.Email(allow_none=True, validate=validate.Length(max=200),
                         metadata={"example": "nankeng@gonghui.example.org"})
    webhook_url = fields.Url(allow_none=True, schemes={"http", "https"}, require_tld=False,
                             validate=validate.Length(max=500),
                             metadata={"example": None})

    @validates_schema
    def reachable(self, data, **kwargs):
        if not any(data.get(name) for name in ("phone", "email", "webhook_url")):
            raise ValidationError("a contact needs a phone, an email or a webhook_url",
                                  "_schema")


class NewOrganizationSchema(Schema):
    """``register_organization(data, caller)``; the body of POST /organizations."""

    code = Code(required=True, metadata={
        "description": "lowercase slug, e.g. longgang.bantian.nankeng",
        "example": "longgang.bantian.xinwei"})
    name = text(200, "新围社区工会联合会", required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS),
                         metadata={"example": "community_federation"})
    parent_code = Code(allow_none=True, load_default=None, metadata={
        "description": "must lie within the caller's subtree; none only for the district "
                       "federation, the root", "example": "longgang.bantian"})
    party_organization = fields.Nested(PartyOrganizationSchema, allow_none=True,
                                       load_default=None, metadata={
                                           "description": "required for federations "
                                                          "(党管工会)"})
    enterprise_credit_code = CreditCode(allow_none=True, load_default=None, metadata={
        "description": "for an enterprise_union: its enterprise", "example": None})
    contacts = fields.List(fields.Nested(ContactSchema), load_default=list, validate=CONTACTS)


class OrganizationChangesSchema(_Changes):
    """``update_organization(code, changes, caller)``; the body of PATCH."""

    name = text(200, "南坑社区工联会")
    party_organization = fields.Nested(PartyOrganizationSchema, allow_none=True)


class OrganizationMoveSchema(Schema):
    parent_code = Code(required=True, metadata={
        "description": "the new parent; must lie within the caller's subtree",
        "example": "longgang.longcheng"})


class ContactsInputSchema(Schema):
    contacts = fields.List(fields.Nested(ContactSchema), required=True, validate=CONTACTS)


class ChildrenQuerySchema(CursorQuery):
    """``list_children(code, cursor=None, limit=100)``: the organizations directly below
    one, by code, a page at a time."""


class OrganizationSchema(Schema):
    """An organization's public card, as the registry's events carry it."""

    code = fields.String(required=True, metadata={"example": NANKENG})
    name = fields.String(required=True, metadata={"example": "南坑社区工会联合会"})
    kind = fields.String(required=True, metadata={"example": "community_federation"})
    tier = fields.String(required=True, validate=validate.OneOf(TIERS),
                         metadata={"example": "community"})
    parent_code = fields.String(allow_none=True, metadata={"example": "longgang.bantian"})
    path = fields.List(fields.String(), required=True, metadata={
        "description": "organization codes from the district down to this one",
        "example": [DISTRICT, "longgang.bantian", NANKENG]})
    party_organization = fields.Nested(PartyOrganizationSchema, allow_none=True)
    enterprise_credit_code = fields.String(allow_none=True, metadata={
        "description": "for an enterprise union: its enterprise", "example": None})


class OrganizationWithContactsSchema(OrganizationSchema):
    """The organization as the registry answers it over RPC: the card and its contacts."""

    contacts = fields.List(fields.Nested(ContactSchema), required=True)


OrganizationPageSchema = page_schema(OrganizationSchema)  # the public children list
OrganizationWithContactsPageSchema = page_schema(OrganizationWithContactsSchema)


class ContactsSchema(Schema):
    code = fields.String(required=True, metadata={"example": NANKENG})
    contacts = fields.List(fields.Nested(ContactSchema), required=True)


class StatisticsSchema(Schema):
    """Active enterprises of a subtree: one primary-key read, the counts are kept current
    by every write."""

    code = fields.String(required=True, metadata={"example": NANKENG})
    name = fields.String(required=True, metadata={"example": "南坑社区工会联合会"})
    enterprises = fields.Integer(required=True, metadata={"example": 227})
    workers = fields.Integer(required=True, metadata={"example": 10200})
    own_union = fields.Integer(required=True, metadata={"description": "单独建会",
                                                        "example": 42})
    covered = fields.Integer(required=True, metadata={"description": "联合会覆盖",
                                                      "example": 176})
    establishment_rate = fields.Float(required=True, metadata={
        "description": "建会率 = (own_union + covered) / enterprises, 0..1 rounded to 4 "
                       "places", "example": 0.9604})


class ChainQuerySchema(Schema):
    """``chain(code=..., caller=...)`` or ``chain(credit_code=..., caller=...)``."""

    code = fields.String(load_default=None, validate=validate.Length(min=1,
                                                                     max=CODE_MAX_LENGTH))
    credit_code = CreditCode(load_default=None)

    @validates_schema
    def _one_place(self, data, **kwargs):
        if (data.get("code") is None) == (data.get("credit_code") is None):
            raise ValidationError("give exactly one of code and credit_code", "code")


class ChainUnionSchema(Schema):
    code = fields.String(required=True, metadata={"example": NANKENG})
    name = fields.String(required=True, metadata={"example": "南坑社区工会联合会"})
    kind = fields.String(required=True, metadata={"example": "community_federation"})


class ChainLinkSchema(Schema):
    """One level of the chain: the union organization and its party organization."""

    tier = fields.String(required=True, metadata={"example": "community"})
    union = fields.Nested(ChainUnionSchema, required=True)
    party_organization = fields.Nested(PartyOrganizationSchema, allow_none=True)
    contacts = fields.List(fields.Nested(ContactSchema), required=True)


class ChainEnterpriseSchema(Schema):
    credit_code = fields.String(required=True, metadata={"example": CREDIT_CODE_EXAMPLE})
    name = fields.String(required=True, metadata={"example": "深圳市华兴电子科技有限公司"})
    key_enterprise = fields.Boolean(required=True, metadata={"example": True})
    status = fields.String(required=True, metadata={"example": "active"})


class LeaderSchema(Schema):
    """挂点领导: the official assigned to a key enterprise."""

    name = text(100, "王伟", required=True)
    title = text(200, "坂田街道办事处副主任", min_length=0, allow_none=True)
    phone = text(40, "13800000000", min_length=0, allow_none=True)


class ChainSchema(Schema):
    code = fields.String(allow_none=True, metadata={"description": "the organization asked",
                                                    "example": None})
    credit_code = fields.String(allow_none=True, metadata={"example": CREDIT_CODE_EXAMPLE})
    enterprise = fields.Nested(ChainEnterpriseSchema, allow_none=True)
    assigned_leader = fields.Nested(LeaderSchema, allow_none=True, metadata={
        "description": "挂点领导 of a key enterprise"})
    chain = fields.List(fields.Nested(ChainLinkSchema), required=True, metadata={
        "description": "from the nearest organization (the enterprise's own union, if any) "
                       "up to the district"})


# --- enterprises -------------------------------------------------------------------------

HEADCOUNT = validate.Range(min=0, max=1_000_000)


class NewEnterpriseSchema(Schema):
    """``register_enterprise(data, caller)``; the body of POST /enterprises, and a row of
    an import for an enterprise not registered yet."""

    credit_code = CreditCode(required=True, metadata={
        "description": "统一社会信用代码 (18 characters, GB 32100-2015 check digit)",
        "example": CREDIT_CODE_EXAMPLE})
    name = text(200, "深圳市华兴电子科技有限公司", required=True)
    address = text(500, "深圳市龙岗区坂田街道南坑社区环城路88号", min_length=0, allow_none=True)
    community_code = Code(required=True, metadata={
        "description": "the community or park; must lie within the caller's subtree",
        "example": NANKENG})
    headcount = fields.Integer(required=True, validate=HEADCOUNT, metadata={"example": 120})
    union_status = fields.String(validate=validate.OneOf(UNION_STATUSES), metadata={
        "description": "default none; own needs 25+ workers", "example": "covered"})
    union_code = Code(allow_none=True, metadata={
        "description": "default: the community (covered) or a new enterprise union (own)",
        "example": NANKENG})
    # Truthy/falsy also in Chinese: import files come from spreadsheets.
    key_enterprise = fields.Boolean(
        allow_none=True,
        truthy=fields.Boolean.truthy | {"是", "Y", "y"},
        falsy=fields.Boolean.falsy | {"否", "N", "n"},
        metadata={"description": "default: true from 500 workers", "example": False},
    )
    assigned_leader = fields.Nested(LeaderSchema, allow_none=True, metadata={
        "description": "挂点领导, only for a key enterprise"})


class ImportRowSchema(NewEnterpriseSchema):
    """A row of a bulk import: an upsert by credit code, so for an enterprise already
    registered only the credit code is needed and the fields given are changed."""

    # Only the shape here: a mistyped check digit is one rejected row in the importer's
    # report, not a refusal of the whole import.
    credit_code = fields.String(required=True, validate=validate.Length(equal=18), metadata={
        "description": "统一社会信用代码 (18 characters; a wrong check digit rejects the row)",
        "example": CREDIT_CODE_EXAMPLE})
    name = text(200, "深圳市华兴电子科技有限公司",
                metadata={"description": "required for a new one"})
    community_code = Code(metadata={
        "description": "required for a new one; a different one moves the enterprise; "
                       "must lie within the caller's subtree", "example": NANKENG})
    headcount = fields.Integer(validate=HEADCOUNT, metadata={
        "description": "required for a new one", "example": 120})


ENTERPRISE_CHANGES = ("name", "address", "headcount", "union_status", "union_code",
                      "key_enterprise", "assigned_leader")


class EnterpriseChangesSchema(_Changes, ImportRowSchema):
    """``update_enterprise(credit_code, changes, caller)``; the body of PATCH. (The
    community changes by a move, the status by closing.)"""

    class Meta:
        fields = ENTERPRISE_CHANGES


class EnterpriseMoveSchema(Schema):
    community_code = Code(required=True, metadata={
        "description": "the new community or park; must lie within the caller's subtree",
        "example": "longgang.bantian.gangtou"})


class EnterpriseCloseSchema(Schema):
    reason = text(500, "搬迁出龙岗区", required=True)


class EnterpriseListQuerySchema(CursorQuery):
    """``list_enterprises(code, caller, cursor=None, limit=100, include_closed=False)``:
    the enterprises of a subtree by community, then credit code, a page at a time.
    (Closed ones only over RPC: the HTTP route leaves ``include_closed`` out.)"""

    include_closed = fields.Boolean(load_default=False, metadata={
        "description": "closed enterprises too", "example": False})


class EnterpriseSchema(Schema):
    credit_code = fields.String(required=True, metadata={"example": CREDIT_CODE_EXAMPLE})
    name = fields.String(required=True, metadata={"example": "深圳市华兴电子科技有限公司"})
    address = fields.String(allow_none=True, metadata={
        "example": "深圳市龙岗区坂田街道南坑社区环城路88号"})
    community_code = fields.String(required=True, metadata={"example": NANKENG})
    path = fields.List(fields.String(), required=True, metadata={
        "description": "organization codes from the district down to its community",
        "example": [DISTRICT, "longgang.bantian", NANKENG]})
    headcount = fields.Integer(required=True, metadata={"example": 120})
    union_status = fields.String(required=True, validate=validate.OneOf(UNION_STATUSES),
                                 metadata={"example": "covered"})
    union_code = fields.String(allow_none=True, metadata={"example": NANKENG})
    key_enterprise = fields.Boolean(required=True, metadata={"example": False})
    assigned_leader = fields.Nested(LeaderSchema, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(ENTERPRISE_STATUSES),
                           metadata={"example": "active"})
    closed_reason = fields.String(allow_none=True, metadata={"example": None})


EnterprisePageSchema = page_schema(EnterpriseSchema)


MAX_IMPORT_ROWS = 5000  # per HTTP request; the CLI reads files of any size


class ImportInputSchema(Schema):
    """``import_enterprises(rows, caller)``. Each row is checked on its own by the
    importer (``ImportRowSchema``'s rules), so a bad row is reported and the rest kept."""

    rows = fields.List(fields.Raw(), required=True)


class ImportErrorSchema(Schema):
    row = fields.Integer(required=True, metadata={
        "description": "1-based position in the rows", "example": 2})
    credit_code = fields.String(allow_none=True, metadata={"example": CREDIT_CODE_EXAMPLE})
    reason = fields.String(required=True, metadata={
        "example": "union_status: an enterprise under 25 workers (this one has 12) cannot "
                   "have its own union: use covered or none"})


class ImportReportSchema(Schema):
    rows = fields.Integer(required=True, metadata={"example": 2})
    created = fields.Integer(required=True, metadata={"example": 1})
    updated = fields.Integer(required=True, metadata={"description": "updated or moved",
                                                      "example": 0})
    unchanged = fields.Integer(required=True, metadata={"example": 0})
    rejected = fields.Integer(required=True, metadata={"example": 1})
    errors = fields.List(fields.Nested(ImportErrorSchema), required=True)


# --- the arguments that name what a call is about ----------------------------------------

class OrganizationRefSchema(Schema):
    code = subject_code()


class EnterpriseRefSchema(Schema):
    credit_code = CreditCode(required=True)

