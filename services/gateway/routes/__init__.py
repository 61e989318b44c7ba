"""Route mixins of the gateway, one module per backing service (see ``service.py``)."""
