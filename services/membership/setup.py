"""First run of membership (``gonghui up``): migrate and ask for the sample.

``gonghui up`` binds every service's event queues before any starts
(``shared.consumers.declare_event_queues``), so the registry's first events wait in
membership's queues until it runs.
"""

from sqlalchemy import func, select

from services.membership import sample
from services.membership.models import workers
from shared.db import open_database


def prepare(database_url, migrations_dir):
    db = open_database(database_url, "membership", migrations_dir)
    try:
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
