from shared.db import run_migrations_env
from tests.shared.demo.service import metadata

run_migrations_env(metadata)
