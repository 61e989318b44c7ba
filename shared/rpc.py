"""``@rpc`` for every service: nameko's, made to ride out a broker restart.

What nameko 2.14 does when RabbitMQ goes away under an RPC (seen in
tests/disputes/test_with_all_services.py, the broker cut while reports stream in):

- the reply is published from the worker's result handler with three quick retries;
  when they fail, nameko takes the error for a bug and kills the whole service;
- the request is acked after its reply, on the connection it came in on: when that
  connection breaks mid-call, the broker hands the request out again, and the method
  runs a second time (a report filed twice);
- a caller's publish that the broker took but never confirmed is sent again when the
  caller reconnects: two copies of one request, both run.

Here a service:

1. retries a reply until the broker is back (``REPLY_RETRIES`` tries, about one a
   second), then logs it as lost instead of dying; the caller's deadline decides what
   the caller answers;
2. runs each request once: a request whose correlation id it has already taken (a
   redelivery, or a publisher's second copy) is acked and dropped. The memory is this
   process's (the last ``REMEMBERED`` requests): it is lost with the process and not
   shared between replicas, so a method whose repetition would do harm also takes an id
   from its caller and keeps it with what it wrote (the disputes service's
   ``submit_report(..., request_id=...)``, which the gateway calls with one per HTTP
   request).

3. answers a request it cannot decode or that is not an RPC request at all (not JSON,
   bad UTF-8, too deep, another content type, no ``args``/``kwargs``) with
   ``MalformedRequest`` when it says where to reply, and parks it in
   ``<service>.dead-letters`` with the reason (``gonghui dlq list|replay``), counted in
   ``gonghui_messages_rejected_total``: kombu alone would log it and drop it, and the
   caller would wait for its deadline.

4. refuses a request that arrives past its caller's deadline (the ``nameko.deadline``
   header, ``shared.deadlines``) without running it, answering ``DeadlineExceeded``,
   counted in ``gonghui_rpc_requests_refused_late_total``; the caller also publishes it
   with a broker expiry of the time left, so it rarely even arrives.

    from shared.rpc import rpc

    class RegistryService:
        @rpc
        def register_enterprise(self, data): ...

Every service must take ``rpc`` from here, not from nameko: two kinds of RPC consumer
in one service would each take messages meant for the other's methods.
"""

import logging
from collections import OrderedDict

from kombu.exceptions import OperationalError
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    DEFAULT_TRANSPORT_OPTIONS,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import MalformedRequest, serialize

from shared import deadlines
from shared.consumers import ParkingQueueConsumer, park, undecodable_reason
from shared.errors import DeadlineExceeded
from shared.metrics import MESSAGES_REJECTED, REQUESTS_REFUSED_LATE

log = logging.getLogger(__name__)

BROKER_ERRORS = (OperationalError, OSError)  # kombu's wrapper, and raw socket errors
REPLY_RETRIES = 60  # a minute of outage: longer than any caller waits (the gateway: 10 s)
REMEMBERED = 10_000  # requests whose ids are kept: minutes of traffic


class ReplyPublisher(Publisher):
    # kombu reconnects every second at most: a reply goes out soon after the broker is back
    retry_policy = {"max_retries": REPLY_RETRIES, "interval_start": 0,
                    "interval_step": 0.5, "interval_max": 1}
    # A pooled connection not yet open connects on first use, outside the retry policy:
    # kombu gives up after the connect timeout (5 s) in all, and its OperationalError is
    # not retried. A reply whose connection's handshake stalled past RabbitMQ's 10 s
    # (a process busy on CPU) was lost on ECONNRESET so. Give that connect the minute too.
    transport_options = {**DEFAULT_TRANSPORT_OPTIONS, "connect_retries_timeout": REPLY_RETRIES}


class Responder(nameko_rpc.Responder):
    publisher_cls = ReplyPublisher


class RpcConsumer(nameko_rpc.RpcConsumer):
    queue_consumer = ParkingQueueConsumer()

    def setup(self):
        super().setup()
        self._taken = OrderedDict()  # correlation ids of the requests taken, oldest first

    def handle_undecodable(self, message, exc):
        self._reject(message, undecodable_reason(exc), "undecodable")

    def _reject(self, message, error, reason):
        """Park, then tell the caller (if it said where to reply), then ack."""
        config = self.container.config
        exchange = nameko_rpc.get_rpc_exchange(config)
        try:
            park(ReplyPublisher(config[AMQP_URI_CONFIG_KEY]), self.container.service_name,
                 message, error, 0, self.queue.name, exchange.name)
        except BROKER_ERRORS:
            log.exception("RPC: could not park a rejected request; requeueing")
            self.queue_consumer.requeue_message(message)
            return
        MESSAGES_REJECTED.labels(self.container.service_name, self.queue.name, reason).inc()
        log.error("RPC %s: request parked in the dead-letter queue: %s",
                  message.delivery_info.get("routing_key"), error[:500])
        reply_to = message.properties.get("reply_to")
        if reply_to:
            # Always JSON: the request's own content type may be one we cannot write.
            try:
                ReplyPublisher(config[AMQP_URI_CONFIG_KEY]).publish(
                    {"result": None, "error": serialize(MalformedRequest(error))},
                    exchange=exchange, routing_key=reply_to,
                    correlation_id=message.properties.get("correlation_id"))
            except BROKER_ERRORS as exc:
                log.error("RPC: answer to a rejected request lost (%s)", exc)
        self._ack(message)

    def handle_message(self, body, message):
        if not (isinstance(body, dict) and isinstance(body.get("args"), list | tuple)
                and isinstance(body.get("kwargs"), dict)):
            self._reject(message, "not an RPC request: a JSON object with a list 'args' "
                         f"and an object 'kwargs' was expected, got {type(body).__name__}",
                         "invalid")
            return
        correlation_id = message.properties.get("correlation_id")
        if correlation_id is not None:
            if correlation_id in self._taken:
                log.info("RPC %s: request %s came again; it ran already, dropped",
                         message.delivery_info.get("routing_key"), correlation_id)
                self._ack(message)
                return
            self._taken[correlation_id] = None
            if len(self._taken) > REMEMBERED:
                self._taken.popitem(last=False)
        try:
            deadlines.refuse_if_past(deadlines.deadline_of(message.headers),
                                     f"{message.delivery_info.get('routing_key')} not run")
        except DeadlineExceeded as exc:
            # Its caller gave up (or is about to): running it now could only do what the
            # caller was told, or will be told, was not done.
            REQUESTS_REFUSED_LATE.labels(self.container.service_name).inc()
            log.info("RPC %s", exc)
            self.handle_result(message, None, (DeadlineExceeded, exc, None))
            return
        super().handle_message(body, message)

    def handle_result(self, message, result, exc_info):
        config = self.container.config
        responder = Responder(
            config[AMQP_URI_CONFIG_KEY], nameko_rpc.get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except BROKER_ERRORS as exc:
            log.error("RPC %s: reply lost, the broker stayed unreachable (%s)",
                      message.delivery_info.get("routing_key"), exc)
        self._ack(message)
        return result, exc_info

    def _ack(self, message):
        try:
            self.queue_consumer.ack_message(message)
        except BROKER_ERRORS:
            pass  # the connection is gone: the broker takes the request back (see 2.)


class Rpc(nameko_rpc.Rpc):
    rpc_consumer = RpcConsumer()


class ReplyListener(nameko_rpc.ReplyListener):
    """nameko's reply listener for a caller (the gateway's ``BackendRpc``), but a reply it
    cannot decode, or that is no RPC reply (an object with ``result`` and ``error``), is
    parked in ``<service>.dead-letters`` with the reason and counted, as 3. does for
    requests; kombu alone would log and drop it, nameko would fail on it. The caller
    waiting for it hears nothing and answers at its deadline (for a write: outcome
    unknown, since the request may have run)."""

    queue_consumer = ParkingQueueConsumer()

    def handle_undecodable(self, message, exc):
        self._reject(message, undecodable_reason(exc), "undecodable")

    def handle_message(self, body, message):
        if not (isinstance(body, dict) and {"result", "error"} <= body.keys()):
            self._reject(message, "not an RPC reply: a JSON object with 'result' and "
                         f"'error' was expected, got {type(body).__name__}", "invalid")
            return
        super().handle_message(body, message)

    def _reject(self, message, error, reason):
        service = self.container.service_name
        try:
            park(ReplyPublisher(self.container.config[AMQP_URI_CONFIG_KEY]), service,
                 message, error, 0, self.queue.name)
        except BROKER_ERRORS:
            log.exception("RPC: could not park a rejected reply; requeueing")
            self.queue_consumer.requeue_message(message)
            return
        MESSAGES_REJECTED.labels(service, self.queue.name, reason).inc()
        log.error("RPC reply %s parked in the dead-letter queue: %s",
                  message.properties.get("correlation_id"), error[:500])
        self.queue_consumer.ack_message(message)


rpc = Rpc.decorator
