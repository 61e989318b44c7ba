"""First run of membership (``gonghui up``): migrate, bind its queues, ask for the sample.

Binding the queues of membership's registry handlers here, before any service starts,
means the registry's first events (its sample district, published as soon as it starts)
wait in membership's queues instead of being dropped for want of a queue.
"""

import os

from kombu import Connection
from sqlalchemy import func, select

from services.membership import sample
from services.membership.models import workers
from shared.config import service_config
from shared.db import open_database


def declare_queues(config: dict) -> int:
    """Declare every event-handler queue of MembershipService exactly as nameko will."""
    from nameko.containers import ServiceContainer

    from services.membership.service import MembershipService
    from shared.consumers import ReliableEventHandler

    container = ServiceContainer(MembershipService, dict(config, DATABASE_MIGRATE=False))
    handlers = [ext for ext in container.entrypoints if isinstance(ext, ReliableEventHandler)]
    with Connection(config["AMQP_URI"], connect_timeout=5) as connection:
        channel = connection.channel()
        for handler in handlers:
            handler.setup()
            handler.queue(channel).declare()
        channel.close()
    return len(handlers)


def prepare(database_url, migrations_dir, env=os.environ):
    db = open_database(database_url, "membership", migrations_dir)
    try:
        config = service_config("membership", env)
        yield f"bound {declare_queues(config)} queues for the registry's events"
        with db.session() as session:
            count = session.execute(select(func.count()).select_from(workers)).scalar()
        if count:
            yield f"{count} workers on file; sample not requested"
        elif sample.request(db):
            yield (f"sample requested: {sample.MEMBERS:,} members in {sample.COMMUNITY} load "
                   "once the registry's events have arrived")
        else:
            yield "sample already requested"
    finally:
        db.engine.dispose()
