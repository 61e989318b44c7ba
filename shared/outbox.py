"""The outbox relay: publishes committed events in order, with publisher confirms.

A unit of work writes events to the ``outbox`` table in the same transaction as the
state change (``shared.db.UnitOfWork.publish``). The relay reads unpublished rows in
``seq`` order, publishes a batch, waits for the broker to confirm the whole batch, and
only then marks the rows published. So:

- a broker outage delays events (rows stay unpublished) and never fails the request;
- a crash between confirm and mark re-publishes the batch: consumers are idempotent;
- one relay per database holds a lease, so replicas do not interleave and reorder.

Waiting for one confirm per message caps a publisher near 1-2k msg/s on this machine
(ENGINEERING.md); confirming per batch is what lets the relay go several times faster.
"""

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import amqp
from kombu import Connection
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from shared.db import outbox_table, relay_lease_table
from shared.metrics import (
    EVENTS_PUBLISHED,
    OUTBOX_LAG,
    OUTBOX_PENDING,
    OUTBOX_PUBLISH_FAILURES,
)

log = logging.getLogger(__name__)

# What a broker outage looks like from here: all are worth a reconnect and a retry.
BROKER_ERRORS = (OSError, amqp.exceptions.AMQPError, amqp.exceptions.RecoverableConnectionError,
                 TimeoutError)

LEASE = timedelta(seconds=15)
RETENTION = timedelta(days=1)


class PublishNotConfirmed(Exception):
    pass


class BatchPublisher:
    """Publishes a batch on one confirmed channel and waits for all confirms."""

    def __init__(self, amqp_uri: str, confirm_timeout: float = 10.0):
        self.amqp_uri = amqp_uri
        self.confirm_timeout = confirm_timeout
        self._connection = None
        self._channel = None
        self._declared = set()
        self._next_tag = 1
        self._acked_upto = 0
        self._acked = set()
        self._nacked = False

    def _open(self):
        connection = Connection(self.amqp_uri, connect_timeout=5, heartbeat=0)
        connection.connect()
        raw = connection.connection  # py-amqp: gives direct access to confirm events
        channel = raw.channel()
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        self._connection, self._channel = connection, channel
        self._declared.clear()
        self._next_tag, self._acked_upto, self._acked = 1, 0, set()

    def _on_ack(self, tag, multiple):
        if multiple:
            self._acked_upto = max(self._acked_upto, tag)
        else:
            self._acked.add(tag)

    def _on_nack(self, tag, multiple):
        self._nacked = True

    def _confirmed(self, tag):
        return tag <= self._acked_upto or tag in self._acked

    def publish(self, rows):
        """rows: (exchange, routing_key, event_id, body) tuples, in order."""
        if self._channel is None:
            self._open()
        channel = self._channel
        for exchange in {row[0] for row in rows} - self._declared:
            channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
            self._declared.add(exchange)
        self._nacked = False
        first = self._next_tag
        for exchange, routing_key, event_id, body in rows:
            message = amqp.Message(
                body.encode(),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=event_id,
                type=routing_key,  # the event type (the routing key is it: UnitOfWork.publish)
            )
            channel.basic_publish(message, exchange=exchange, routing_key=routing_key)
            self._next_tag += 1
        last = self._next_tag - 1
        deadline = time.monotonic() + self.confirm_timeout
        raw = self._connection.connection
        while not self._all(first, last):
            if self._nacked:
                raise PublishNotConfirmed("broker nacked a message in the batch")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishNotConfirmed(f"no confirm within {self.confirm_timeout}s")
            raw.drain_events(timeout=remaining)
        if self._nacked:
            raise PublishNotConfirmed("broker nacked a message in the batch")
        self._acked = {tag for tag in self._acked if tag > last}

    def _all(self, first, last):
        if last <= self._acked_upto:
            return True
        return all(self._confirmed(tag) for tag in range(first, last + 1))

    def close(self):
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail any way
                pass


class OutboxRelay:
    def __init__(self, engine, amqp_uri, service, batch_size=500, poll_seconds=0.5):
        self.engine = engine
        self.service = service
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.publisher = BatchPublisher(amqp_uri)
        self.holder = uuid.uuid4().hex
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._last_purge = 0.0
        self._last_measure = 0.0
        self._held_until = None  # when the lease this relay last took or renewed expires

    def wake(self):
        self._wake.set()

    def stop(self):
        self._stopped.set()
        self._wake.set()

    def run(self):
        """Publish until stopped; broker or database trouble means wait and try again."""
        backoff = 0.2
        while not self._stopped.is_set():
            try:
                published = self.publish_pending()
                backoff = 0.2
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any outage
                OUTBOX_PUBLISH_FAILURES.labels(self.service).inc()
                log.warning("outbox relay: %s; retrying in %.1fs", exc, backoff,
                            extra={"service": self.service})
                self.publisher.close()
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if published < self.batch_size:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
        self.publisher.close()
        self.release_lease()

    def release_lease(self):
        """Give the lease up (a graceful stop), so that another replica, or this service
        restarted, publishes at once instead of waiting for the lease to run out."""
        if self._held_until is None:
            return
        self._held_until = None
        try:
            with self.engine.begin() as connection:
                connection.execute(update(relay_lease_table)
                                   .where(relay_lease_table.c.holder == self.holder)
                                   .values(expires_at=datetime.now(UTC)))
        except Exception:  # noqa: BLE001 - the database may be what is going away
            log.warning("outbox relay: could not release the lease; it runs out in %d s",
                        LEASE.total_seconds(), extra={"service": self.service})

    def publish_pending(self) -> int:
        """One pass: publish up to one batch. Returns how many events were published."""
        if not self._take_lease():
            self._measure()
            return 0
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    outbox_table.c.seq,
                    outbox_table.c.exchange,
                    outbox_table.c.routing_key,
                    outbox_table.c.event_id,
                    outbox_table.c.body,
                )
                .where(outbox_table.c.published_at.is_(None))
                .order_by(outbox_table.c.seq)
                .limit(self.batch_size)
            ).all()
        if rows:
            self.publisher.publish([tuple(row[1:]) for row in rows])
            with self.engine.begin() as connection:
                connection.execute(
                    update(outbox_table)
                    .where(outbox_table.c.seq.in_([row[0] for row in rows]))
                    .values(published_at=datetime.now(UTC))
                )
            EVENTS_PUBLISHED.labels(self.service).inc(len(rows))
        self._measure()
        self._purge()
        return len(rows)

    def _take_lease(self) -> bool:
        now = datetime.now(UTC)
        # Nobody can take the lease before it runs out: while more than half of it is
        # left, publish without renewing (a transaction saved on every pass).
        if self._held_until is not None and now < self._held_until - LEASE / 2:
            return True
        expires = now + LEASE
        table = relay_lease_table
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(table)
                .where(table.c.id == 1)
                .where((table.c.holder == self.holder) | (table.c.expires_at < now))
                .values(holder=self.holder, expires_at=expires)
            ).rowcount
        if not taken:
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        insert(table).values(id=1, holder=self.holder, expires_at=expires)
                    )
            except IntegrityError:
                self._held_until = None
                return False  # another replica holds it
        self._held_until = expires
        return True

    def _measure(self):
        # Counting the backlog costs as much as a batch when it is long: once a second will do.
        if time.monotonic() - self._last_measure < 1.0:
            return
        self._last_measure = time.monotonic()
        with self.engine.connect() as connection:
            pending, oldest = connection.execute(
                select(func.count(), func.min(outbox_table.c.created_at)).where(
                    outbox_table.c.published_at.is_(None)
                )
            ).one()
        OUTBOX_PENDING.labels(self.service).set(pending)
        if oldest is None:
            OUTBOX_LAG.labels(self.service).set(0)
        else:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            OUTBOX_LAG.labels(self.service).set(
                max(0.0, (datetime.now(UTC) - oldest).total_seconds())
            )

    def _purge(self):
        if time.monotonic() - self._last_purge < 600:
            return
        self._last_purge = time.monotonic()
        with self.engine.begin() as connection:
            connection.execute(
                delete(outbox_table).where(
                    outbox_table.c.published_at < datetime.now(UTC) - RETENTION
                )
            )
