"""Membership and the real registry running side by side on the real broker: the
registry's sample district arrives as events, and membership's 南坑 sample then gives
the real figures: 9,525 members of 10,200 workers, a join rate of 93%, 500 cards."""

import time

from nameko.testing.utils import get_container

from services.membership import sample
from services.membership.service import MIGRATIONS, MembershipService
from services.registry.sample import load_sample
from services.registry.service import MIGRATIONS as REGISTRY_MIGRATIONS
from services.registry.service import RegistryService
from shared.consumers import declare_event_queues
from shared.testing import call, wait_for
from tests.membership.conftest import TEST_KEY

NANKENG = "longgang.bantian.nankeng"


def test_the_nankeng_sample_gives_93_percent_with_the_registry_running(
        runner_factory, make_service_config, database_factory, tmp_path):
    registry_config = make_service_config(f"sqlite:///{tmp_path}/registry.db")
    membership_config = dict(make_service_config(f"sqlite:///{tmp_path}/membership.db"),
                             MEMBERSHIP_PII_KEY=TEST_KEY)
    # What `gonghui up` does first: the registry loads its sample (227 enterprises is
    # 南坑 alone), membership binds its queues and asks for its sample.
    load_sample(database_factory(registry_config["DATABASE_URL"], "registry",
                                 REGISTRY_MIGRATIONS), enterprises=227)
    sample.request(database_factory(membership_config["DATABASE_URL"], "membership",
                                    MIGRATIONS))
    declare_event_queues(MembershipService, membership_config)

    runner_factory(registry_config, RegistryService).start()
    membership_runner = runner_factory(membership_config, MembershipService)
    membership_runner.start()
    membership = get_container(membership_runner, MembershipService)

    deadline, rate = time.monotonic() + 90, None
    while time.monotonic() < deadline:
        try:
            rate = call(membership, "join_rate", NANKENG)
        except Exception:  # noqa: BLE001 - 南坑 not arrived yet
            rate = None
        if rate and rate["members"] == sample.MEMBERS:
            break
        time.sleep(0.5)
    assert rate == {"code": NANKENG, "members": 9_525, "workers": 10_200,
                    "join_rate": 0.9338, "join_rate_percent": 93}
    # The pilot's 500 cards follow the members, each through ``request_card``.
    assert wait_for(lambda: call(membership, "cards_held", NANKENG)["cards"] == sample.CARDS,
                    timeout=30, interval=0.5)
    assert call(membership, "cards_held", NANKENG) == {"code": NANKENG, "cards": 500}
    assert call(membership, "cards_held", "longgang") == {"code": "longgang", "cards": 500}
