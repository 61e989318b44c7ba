"""Schemas of the gateway's own API (errors, users, paging); route modules add their own.

Input schemas reject unknown fields (marshmallow's default ``RAISE``) and bound every
string and list, so a client mistake comes back as a 400 naming the field.
"""

from marshmallow import Schema, fields, validate

from services.gateway.auth import ROLES

CODE = validate.Length(min=1, max=64)


class ErrorSchema(Schema):
    """Every error response: one machine-readable code, a message for people, details."""

    error = fields.String(required=True, metadata={
        "description": "INVALID_INPUT, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, "
                       "METHOD_NOT_ALLOWED, CONFLICT, LENGTH_REQUIRED, PAYLOAD_TOO_LARGE, "
                       "UNAVAILABLE, INTERNAL",
        "example": "NOT_FOUND"})
    message = fields.String(required=True)
    details = fields.Raw(allow_none=True, metadata={
        "description": "for INVALID_INPUT: field name -> list of problems"})


class UserSchema(Schema):
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    org_code = fields.String(required=True, metadata={
        "description": "the user sees and changes this organization's subtree only"})


class NewUserSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    org_code = fields.String(required=True, validate=CODE)


class IssuedTokenSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    token = fields.String(required=True, metadata={
        "description": "shown once; the gateway keeps only its SHA-256 hash"})


class RevokedSchema(Schema):
    name = fields.String(required=True)
    revoked_tokens = fields.Integer(required=True)


class PageQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))
