"""Schemas of the gateway's own API (users, ops answers); route modules add their own.

Errors have no marshmallow schema: every one is RFC 9457 problem details, documented as
the ``Problem`` component (``services.gateway.openapi``) and rendered by ``shared.errors``.

Input schemas reject unknown fields (marshmallow's default ``RAISE``) and bound every
string and list, so a client mistake comes back as a 400 naming the field.
"""

from marshmallow import Schema, fields, validate

from services.gateway.auth import ROLES

CODE = validate.Length(min=1, max=64)
ORG_CODE_EXAMPLE = "longgang.bantian.nankeng"


class UserSchema(Schema):
    name = fields.String(required=True, metadata={"example": "南坑-staff"})
    role = fields.String(required=True, validate=validate.OneOf(ROLES),
                         metadata={"example": "staff"})
    org_code = fields.String(required=True, metadata={
        "description": "the user sees and changes this organization's subtree only",
        "example": ORG_CODE_EXAMPLE})


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


class RevokedSchema(Schema):
    name = fields.String(required=True, metadata={"example": "南坑-staff"})
    revoked_tokens = fields.Integer(required=True, metadata={"example": 2})


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    service = fields.String(required=True, metadata={"example": "gateway"})


class ReadinessSchema(Schema):
    ready = fields.Boolean(required=True, metadata={"example": True})
    checks = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True, metadata={
        "example": {"database": True, "broker": True},
        "description": "each dependency: true, or false and `<name>_error` saying why"})
