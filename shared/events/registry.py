"""Events published by the registry (source ``registry``, exchange ``registry.events``)."""

from marshmallow import Schema, fields

from shared.events.envelope import catalogue


class OrganizationSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    parent_code = fields.String(allow_none=True, load_default=None)


catalogue.define("registry", "organization_registered", OrganizationSchema,
                 description="A union organization was added to the tree.")
