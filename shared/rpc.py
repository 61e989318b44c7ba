"""``@rpc`` for every service: nameko's, except that a reply the broker cannot take does not
kill the service.

nameko 2.14 sends an RPC reply from the worker's result handler; when RabbitMQ is away
(a restart, a network cut) the publish gives up after its retries and raises there, and
nameko treats any error in a result handler as fatal: the whole container is killed
with the broker outage as its cause (seen in tests/disputes/test_all_services.py).
Here the failed reply is logged instead. The request itself is not lost: it is acked
only after its reply went out, so the broker hands it out again once the service is
back (the delivery's connection is gone, or the request is put back when it is not),
and the caller, if it is still waiting, gets the answer of the second run. A method
that changes state may thus run twice for one request, as an event handler may.

    from shared.rpc import rpc

    class RegistryService:
        @rpc
        def register_enterprise(self, data): ...

Every service must take ``rpc`` from here, not from nameko: two kinds of RPC consumer
in one service would each take messages meant for the other's methods.
"""

import logging

from kombu.exceptions import OperationalError
from nameko import rpc as nameko_rpc

log = logging.getLogger(__name__)


BROKER_ERRORS = (OperationalError, OSError)  # kombu's wrapper, and raw socket errors


class RpcConsumer(nameko_rpc.RpcConsumer):
    def handle_result(self, message, result, exc_info):
        try:
            return super().handle_result(message, result, exc_info)
        except BROKER_ERRORS as exc:
            # The reply, or the ack after it, did not get through.
            log.warning("RPC %s: reply or ack lost, the broker is unreachable (%s); the "
                        "request will be delivered again",
                        message.delivery_info.get("routing_key"), exc)
            try:
                # On a live channel the request would sit unacked until it closes.
                self.queue_consumer.requeue_message(message)
            except BROKER_ERRORS:
                pass  # the channel is gone: the broker has taken the request back
            return result, exc_info


class Rpc(nameko_rpc.Rpc):
    rpc_consumer = RpcConsumer()


rpc = Rpc.decorator
