"""Schemas of the gateway's own API (users, ops answers); route modules add their own.

Errors have no marshmallow schema: every one is RFC 9457 problem details, documented as
the ``Problem`` component (``services.gateway.openapi``) and rendered by ``shared.errors``.

Input schemas reject unknown fields (marshmallow's default ``RAISE``) and bound every
string and list, so a client mistake comes back as a 400 naming the field.
"""

from marshmallow import Schema, fields, validate

from services.gateway.accounts import MAX_ROTATION_GRACE_SECONDS
from services.gateway.auth import ROLES
from shared.api import disputes as disputes_contract
from shared.paging import page_schema
from shared.schemas import Timestamp

CODE = validate.Length(min=1, max=64)
ORG_CODE_EXAMPLE = "longgang.bantian.nankeng"


class UserSchema(Schema):
    name = fields.String(required=True, metadata={"example": "南坑-staff"})
    role = fields.String(required=True, validate=validate.OneOf(ROLES),
                         metadata={"example": "staff"})
    org_code = fields.String(required=True, metadata={
        "description": "the user sees and changes this organization's subtree only",
        "example": ORG_CODE_EXAMPLE})


class MeSchema(UserSchema):
    token_expires_at = Timestamp(allow_none=True, metadata={
        "description": "when the bearer token of this request expires (null for a "
                       "signed-in browser session); rotate it before then",
        "example": "2027-03-02T10:00:00+00:00"})


class NewUserSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"example": "南坑-staff"})
    role = fields.String(required=True, validate=validate.OneOf(ROLES),
                         metadata={"example": "staff"})
    org_code = fields.String(required=True, validate=CODE,
                             metadata={"example": ORG_CODE_EXAMPLE})


class IssuedTokenSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    token = fields.String(required=True, metadata={
        "description": "shown once; the gateway keeps only its SHA-256 hash",
        "example": "ghu_6mN2vQ8pR4sT1uW3xY5zA7bC9dE0fG2hJ4kL6mN8pQ0"})
    expires_at = Timestamp(required=True, metadata={
        "description": "the token stops working then (GATEWAY_TOKEN_DAYS after issue)",
        "example": "2027-03-02T10:00:00+00:00"})


class RotationSchema(Schema):
    grace_seconds = fields.Integer(strict=True,
        validate=validate.Range(min=0, max=MAX_ROTATION_GRACE_SECONDS), metadata={
            "description": "how long the old token keeps working (0: revoked at once; "
                           "default GATEWAY_TOKEN_ROTATION_GRACE)", "example": 300})


class RotatedTokenSchema(IssuedTokenSchema):
    previous_expires_at = Timestamp(required=True, metadata={
        "description": "when the token this request was made with stops working",
        "example": "2026-12-02T10:05:00+00:00"})


class ListedUserSchema(UserSchema):
    created_at = Timestamp(required=True, metadata={"example": "2026-12-02T10:00:00+00:00"})
    revoked = fields.Boolean(required=True, metadata={
        "description": "disabled: no token or session of theirs works", "example": False})


UserPageSchema = page_schema(ListedUserSchema)


class RoleChangeSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES),
                         metadata={"example": "viewer"})


class PasswordLinkSchema(Schema):
    name = fields.String(required=True, metadata={"example": "南坑-staff"})
    url = fields.String(required=True, metadata={
        "description": "hand it to the user (shown once; only its SHA-256 is kept): it "
                       "sets their password once, until `expires_at`; a new link ends "
                       "the earlier ones",
        "example": "https://gonghui.example/password#q8Jm2vT0aX6cZ1rN4pL7sW9eq8Jm2vT0aX6cZ1"})
    expires_at = Timestamp(required=True, metadata={"example": "2026-12-05T10:00:00+00:00"})


class RevokedSchema(Schema):
    name = fields.String(required=True, metadata={"example": "南坑-staff"})
    revoked_tokens = fields.Integer(required=True, metadata={"example": 2})


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    service = fields.String(required=True, metadata={"example": "gateway"})


class ReadinessSchema(Schema):
    ready = fields.Boolean(required=True, metadata={"example": True})
    checks = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True, metadata={
        "example": {"workers": True, "database": True, "broker": True},
        "description": "each dependency: true, or false and `<name>_error` saying why; "
                       "`workers`: a worker ran a no-op within 2 s"})


class OfficerRegistrationSchema(disputes_contract.OfficerSchema):
    """Registering an information officer, with a gateway account for them to sign in
    to the pages with (``user_name``; optional: without one they use their token)."""

    user_name = fields.String(validate=validate.Length(min=1, max=100), metadata={
        "description": "a gateway account for the officer (role officer): they set its "
                       "password through `password_link` and report signed in, with no "
                       "token to paste", "example": "信息员-王秀英"})


class RegisteredOfficerAccountSchema(disputes_contract.IssuedOfficerTokenSchema):
    user = fields.Nested(UserSchema, allow_none=True, metadata={
        "description": "the officer's gateway account, when `user_name` was given"})
    password_link = fields.Nested(PasswordLinkSchema, allow_none=True, metadata={
        "description": "the one-time link setting the account's first password"})
