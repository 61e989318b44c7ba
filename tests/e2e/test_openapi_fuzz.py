"""The OpenAPI document and the answers agree (issue 12 item 7): schemathesis, pinned in the
dev dependencies, runs against ``/openapi.json`` of a gateway in front of every real
service (SQLite, the test's own vhost), signed in as a district admin, with its stateful
phase (links between operations) where the document allows it. Any server error or answer
that is not what the document says fails the test, with schemathesis' report.

``make test`` runs it at ``FUZZ_EXAMPLES`` examples per operation (about 90 s here);
``make fuzz`` runs the same test at a few hundred (``FUZZ_EXAMPLES=300``, minutes).
"""

import os
import random
import subprocess
import sys

import pytest

from services import SERVICES, service_class
from services.registry.sample import district_organizations, nankeng_enterprises
from shared.testing import call
from tests.conftest import gateway_tokens

pytestmark = pytest.mark.usefixtures("rabbit_config")

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
SECONDS = int(os.environ.get("FUZZ_SECONDS", "75"))
DISTRICT = "longgang"
ENTERPRISES = 20
# What is checked: every answer's status is documented, its body and headers are what
# the document says, and nothing is a 5xx. (Checks that need a live registry of data,
# e.g. "an accepted create is then readable", are the other suites' job.)
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance")


@pytest.fixture
def gateway_url(container_factory, make_service_config, tmp_path):
    configs = {name: make_service_config(f"sqlite:///{tmp_path}/{name}.db",
                                         GATEWAY_RPC_TIMEOUT=10)
               for name in SERVICES}
    containers = {}
    for name in reversed(SERVICES):  # consumers first: the registry's events find queues
        containers[name] = container_factory(service_class(name), configs[name])
        containers[name].start()
    # The sample district's tree and some of 南坑's enterprises, so that the documented
    # examples (longgang.bantian.nankeng, its credit codes) name rows that exist.
    admin = {"name": "fuzz", "role": "admin", "organization_code": DISTRICT}
    for organization in district_organizations():
        call(containers["registry"], "register_organization", organization, admin)
    for enterprise in nankeng_enterprises(random.Random(12))[:ENTERPRISES]:
        call(containers["registry"], "register_enterprise", enterprise, admin)
    return f"http://{configs['gateway']['WEB_SERVER_ADDRESS']}", configs["gateway"]


@pytest.mark.timeout(SECONDS + 120)
def test_every_answer_is_what_the_openapi_document_says(gateway_url, tmp_path):
    base, gateway_config = gateway_url
    token = gateway_tokens(gateway_config["DATABASE_URL"],
                           {"fuzz_admin": ("admin", DISTRICT)})["fuzz_admin"]
    schemathesis = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json",
        "--checks", CHECKS, "--max-examples", str(EXAMPLES), "--max-time", str(SECONDS),
        "--seed", os.environ.get("FUZZ_SEED", "12"), "--workers", "1",
        "--phases", "examples,coverage,fuzzing,stateful", "--request-timeout", "30",
        "--generation-database", "none", "--no-color", "--continue-on-failure",
        "--header", f"Authorization: Bearer {token}",
        # Deleting the user the run signs in as, or rotating its token at once, would end
        # the run early.
        "--exclude-path-regex", "^/api/v1/(users/|me/token/)",
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
    ]
    # In tmp_path: schemathesis keeps a cache (.schemathesis/) where it runs.
    run = subprocess.run(schemathesis, capture_output=True, text=True, timeout=SECONDS + 100,
                         env=dict(os.environ, SCHEMATHESIS_HOOKS=""), cwd=tmp_path)
    (tmp_path / "schemathesis.txt").write_text(run.stdout + run.stderr)
    # Lines cut short: a reproducing curl can hold a 100 kB generated body.
    report = "\n".join(line[:400] for line in (run.stdout + run.stderr).splitlines())
    print(report[-4000:])  # the summary, for `pytest -s` and `make fuzz`
    assert run.returncode == 0, report[-30000:]
