"""First run (``gonghui up``): migrate the registry and load the sample district if empty."""

from sqlalchemy import func, select

from services.registry.models import organizations
from services.registry.sample import NANKENG, load_sample
from shared.db import open_database


def prepare(database_url, migrations_dir):
    db = open_database(database_url, "registry", migrations_dir)
    try:
        with db.session() as session:
            count = session.execute(select(func.count()).select_from(organizations)).scalar()
        if count:
            yield f"{count} organizations registered; sample not loaded"
            return
        summary = load_sample(db)
        yield (f"loaded the sample district: {summary['organizations']} organizations, "
               f"{summary['created']} enterprises (南坑 is {NANKENG})")
    finally:
        db.engine.dispose()
