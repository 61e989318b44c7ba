"""Each service's RPC contract: the marshmallow schemas of what its RPC methods take and
answer, one module per service (``shared/api/<service>.py``).

The service loads every RPC argument with these schemas in ``service.py`` (the one layer
where input is checked) and dumps its answers with them; the gateway uses the same
schemas to check HTTP bodies early and to document them in ``/openapi.json``. One
definition, so the two cannot drift, and the gateway imports nothing from a service's
own modules.
"""
