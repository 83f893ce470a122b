"""Test settings: bms.settings with the two values a developer's shell may lack.

Everything else (DATABASE_URL in particular) still comes from the environment, which is how
the PostgreSQL pass (test_postgresql_pass.py) reruns this suite on PostgreSQL.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-secret")
# Deterministic whatever the machine: tests that need docker ask for it explicitly.
os.environ.setdefault("BACNET_BACKEND", "native")

from bms.settings import *  # noqa: F403
