"""The notifications service's RPC contract: what each method takes and answers.

``services/notifications/service.py`` loads every argument with these schemas and dumps
every answer with them; the gateway's ``routes/notifications.py`` checks HTTP input with
the same schemas and documents its answers with them. Every method also takes the
caller, ``{"name", "role", "organization_code"}`` (``shared.caller``)::

    acknowledge(case_id, acknowledgement, caller)   AcknowledgementInSchema -> AcknowledgementSchema
    case_escalation(case_id, caller)                -> CaseEscalationSchema
    case_notifications(case_id, caller, query=None) CursorQuery -> CaseNotificationPageSchema
    case_audit(case_id, caller, query=None)         CursorQuery -> AuditEntryPageSchema
    inbox(organization_code, caller, query=None)    InboxQuerySchema -> InboxMessagePageSchema

Lists are cursor pages (``shared.paging``): ``{"items": [...], "next_cursor"}``.
Timestamps are RFC 3339 with an offset (``shared.schemas.Timestamp``).
"""

from marshmallow import Schema, fields, validate

from shared.events.notifications import CHAIN_TIERS, MESSAGE_KINDS, RECIPIENT_KINDS
from shared.paging import CursorQuery, page_schema
from shared.schemas import Timestamp

NANKENG = "longgang.bantian.nankeng"
CASE_EXAMPLE = "5f0c8e2a9b7d4c1e8a3f6b2d7e9c0a14"
AT_EXAMPLE = "2026-03-02T09:30:00+08:00"

# Organization codes as the notifications events carry them (at most 64 characters),
# and as the registry makes them (no slashes or blanks).
ORGANIZATION_CODE = validate.And(
    validate.Length(min=1, max=64),
    validate.Regexp(r"^[^/\s]+$", error="must be a code without / or blanks"))
RECIPIENT_KIND = validate.OneOf(RECIPIENT_KINDS)
KIND_TEXT = ("union (工会), party (党组织) or leader (挂点领导: then the code is the key "
             "enterprise's credit code)")


def _kind(**kwargs):
    return fields.String(validate=RECIPIENT_KIND,
                         metadata={"description": KIND_TEXT, "example": "union"}, **kwargs)


def _tier(**kwargs):
    return fields.String(allow_none=True, validate=validate.OneOf(CHAIN_TIERS),
                         metadata={"description": "community, street or district; none for "
                                                  "a key enterprise's leader",
                                   "example": "community"}, **kwargs)


def _organization(**kwargs):
    return fields.String(metadata={"example": NANKENG}, **kwargs)


class CaseRefSchema(Schema):
    """A case named over RPC (the disputes service's case id)."""

    case_id = fields.String(required=True, validate=validate.Length(min=1, max=64),
                            metadata={"example": CASE_EXAMPLE})


class OrganizationRefSchema(Schema):
    """An inbox's owner: an organization code, or a key enterprise's credit code."""

    organization_code = fields.String(required=True, validate=ORGANIZATION_CODE,
                                      metadata={"example": NANKENG})


# --- acknowledging ----------------------------------------------------------------------

class AcknowledgementInSchema(Schema):
    organization_code = fields.String(required=True, validate=ORGANIZATION_CODE, metadata={
        "description": "the notified organization acknowledging (签收); must lie within the "
                       "caller's subtree. The caller's user name is recorded as who signed.",
        "example": NANKENG})
    recipient_kind = _kind(load_default="union")


class AcknowledgementSchema(Schema):
    case_id = fields.String(required=True, metadata={"example": CASE_EXAMPLE})
    organization_code = _organization(required=True)
    recipient_kind = _kind()
    tier = _tier()
    acknowledged_at = Timestamp(metadata={"example": AT_EXAMPLE})
    acknowledged_by = fields.String(metadata={"description": "who signed: the caller's name",
                                              "example": "王主席"})
    case_acknowledged_by = fields.String(allow_none=True, metadata={
        "description": "the organization whose acknowledgement stopped the escalation",
        "example": NANKENG})
    already_acknowledged = fields.Boolean(metadata={
        "description": "true (and status 200): this organization had acknowledged before",
        "example": False})


# --- a case -----------------------------------------------------------------------------

class OpenDeadlineSchema(Schema):
    kind = fields.String(metadata={"description": "remind or escalate", "example": "escalate"})
    tier = _tier()
    due_at = Timestamp(metadata={"example": "2026-03-03T09:30:00+08:00"})


class CaseEscalationSchema(Schema):
    """Where a case's escalation stands."""

    case_id = fields.String(required=True, metadata={"example": CASE_EXAMPLE})
    grade = fields.String(metadata={"description": "routine, serious, urgent or major",
                                    "example": "routine"})
    status = fields.String(metadata={"example": "reported"})
    top_tier = _tier()
    policy_version = fields.String(allow_none=True, metadata={"example": "2015-01"})
    notified_at = Timestamp(allow_none=True, metadata={"example": AT_EXAMPLE})
    acknowledged_at = Timestamp(allow_none=True, metadata={"example": None})
    acknowledged_by = fields.String(allow_none=True, metadata={
        "description": "the organization whose acknowledgement stopped the escalation",
        "example": None})
    open_deadlines = fields.List(fields.Nested(OpenDeadlineSchema), metadata={
        "description": "reminders and the escalation still to come, soonest first"})


class CaseNotificationSchema(Schema):
    organization_code = _organization(required=True)
    recipient_kind = _kind()
    tier = _tier()
    name = fields.String(allow_none=True, metadata={"example": "南坑社区工联会"})
    reason = fields.String(allow_none=True, metadata={
        "description": "why it was told: opened, regraded or escalated", "example": "opened"})
    rule = fields.String(allow_none=True, metadata={
        "example": "policy 2015-01: routine notifies union at community"})
    notified_at = Timestamp(allow_none=True, metadata={"example": AT_EXAMPLE})
    acknowledged_at = Timestamp(allow_none=True, metadata={"example": None})
    acknowledged_by = fields.String(allow_none=True, metadata={"example": None})


class AuditEntrySchema(Schema):
    at = Timestamp(required=True, metadata={"example": AT_EXAMPLE})
    action = fields.String(required=True, metadata={
        "description": "case_received, notified, delivered, delivery_failed, reminded, "
                       "escalated, acknowledged, escalation_stopped, status_changed...",
        "example": "notified"})
    organization_code = _organization(allow_none=True)
    recipient_kind = fields.String(allow_none=True, metadata={"example": "union"})
    channel = fields.String(allow_none=True, metadata={"description": "inbox or webhook",
                                                       "example": None})
    tier = fields.String(allow_none=True, metadata={"example": "community"})
    detail = fields.Dict(metadata={
        "example": {"reason": "opened",
                    "rule": "policy 2015-01: routine notifies union at community"}})


CaseNotificationPageSchema = page_schema(CaseNotificationSchema)
AuditEntryPageSchema = page_schema(AuditEntrySchema)


# --- inboxes ----------------------------------------------------------------------------

# What an inbox message is about: a case (签收 applies), or an incubation period nearing
# its end (a reminder for the hub; nobody acknowledges it).
SUBJECT_KINDS = ("case", "incubation")


class InboxQuerySchema(CursorQuery):
    recipient_kind = _kind(load_default="union")
    unacknowledged = fields.Boolean(load_default=False, metadata={
        "description": "only what still waits: messages about open cases whose "
                       "notification nobody here acknowledged yet",
        "example": False})
    subject_kind = fields.String(load_default=None, validate=validate.OneOf(SUBJECT_KINDS),
                                 metadata={"description": "only messages about cases, or "
                                                          "about incubation periods",
                                           "example": "case"})
    newest_first = fields.Boolean(load_default=False, metadata={"example": False})


class InboxMessageSchema(Schema):
    id = fields.Integer(required=True, metadata={"example": 1024})
    case_id = fields.String(required=True, metadata={"example": CASE_EXAMPLE})
    kind = fields.String(validate=validate.OneOf(MESSAGE_KINDS),
                         metadata={"description": "notice or reminder", "example": "notice"})
    subject_kind = fields.String(validate=validate.OneOf(SUBJECT_KINDS), metadata={
        "description": "case: case_id is a case's; incubation: an incubation period's "
                       "reminder (incubation:<organization id>:<deadline>)",
        "example": "case"})
    title = fields.String(metadata={
        "example": "【一般】南坑某五金厂：欠薪，涉及职工120人，请于2026-03-03 09:30前签收"})
    message = fields.Dict(metadata={
        "description": "the notice: case, grade, recipient, deadline (what a webhook "
                       "receives)",
        "example": {"kind": "notice", "case": {"case_id": CASE_EXAMPLE, "grade": "routine",
                                               "grade_label": "一般",
                                               "category": "unpaid_wages",
                                               "category_label": "欠薪",
                                               "workers_affected": 120},
                    "recipient": {"organization_code": NANKENG, "kind": "union",
                                  "kind_label": "工会", "tier": "community",
                                  "name": "南坑社区工联会"},
                    "acknowledge_by": "2026-03-03T01:30:00+00:00"}})
    received_at = Timestamp(metadata={"example": AT_EXAMPLE})
    acknowledged_at = Timestamp(allow_none=True, metadata={"example": None})
    acknowledged_by = fields.String(allow_none=True, metadata={"example": None})


InboxMessagePageSchema = page_schema(InboxMessageSchema)
