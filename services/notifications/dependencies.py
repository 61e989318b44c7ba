"""nameko-facing pieces of the notifications service: its clock, the notifier (policy and
channels, built once per container), a timer whose interval comes from config.

Config keys (nameko config first, then the environment, then the default):

- NOTIFICATIONS_POLICY: path of a policy YAML (tests pass the policy as a dict);
  default ``policies/policy.yaml`` beside this file.
- NOTIFICATIONS_WEBHOOK_SECRET: HMAC key signing webhooks; unset: a development secret
  (with a warning).
- NOTIFICATIONS_DEADLINE_POLL_SECONDS (0.25): how often due deadlines are looked for.
- NOTIFICATIONS_DELIVERY_POLL_SECONDS (0.5): how often pending webhooks are sent.
"""

import logging
import os

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from services.notifications.adapters import InboxChannel, WebhookChannel
from services.notifications.operations import Notifier
from services.notifications.policy import Policy
from shared.timeutil import now_utc

log = logging.getLogger(__name__)

DEV_SECRET = "gonghui-development-webhook-secret"



def setting(config: dict, key: str, default=None):
    if config.get(key) is not None:
        return config[key]
    return os.environ.get(key, default)


class Clock(DependencyProvider):
    """``self.clock()`` is the time now (UTC); tests replace it to move time."""

    def get_dependency(self, worker_ctx):
        return now_utc


class NotifierProvider(DependencyProvider):
    """The policy and the channels, loaded and checked once when the container starts."""

    def setup(self):
        config = self.container.config
        secret = setting(config, "NOTIFICATIONS_WEBHOOK_SECRET")
        if not secret:
            log.warning("NOTIFICATIONS_WEBHOOK_SECRET is not set: webhooks are signed with a "
                        "development secret")
            secret = DEV_SECRET
        policy = Policy.load(setting(config, "NOTIFICATIONS_POLICY"),
                             known_channels=("inbox", "webhook"))
        channels = {"inbox": InboxChannel(),
                    "webhook": WebhookChannel(secret, timeout=policy.webhook_timeout)}
        self.notifier = Notifier(policy, channels)

    def get_dependency(self, worker_ctx):
        return self.notifier


class ConfiguredTimer(Timer):
    """nameko's timer with its interval read from config at setup.

        @timer_from("NOTIFICATIONS_DEADLINE_POLL_SECONDS", 0.25)
        def fire_deadlines(self): ...
    """

    def __init__(self, config_key, default, **kwargs):
        self.config_key = config_key
        self.default = default
        super().__init__(interval=default, **kwargs)

    def setup(self):
        self.interval = float(setting(self.container.config, self.config_key, self.default))


timer_from = ConfiguredTimer.decorator
