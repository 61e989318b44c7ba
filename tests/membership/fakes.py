"""A stand-in for membership's RPC interface, for the gateway's own tests (which run the
gateway alone). Every call is recorded; nothing is known, so everything is a 404, except
join rates of the codes given."""

from shared.errors import NotFound


class FakeMembership:
    def __init__(self, join_rates=None):
        self.calls = []
        self.join_rates = dict(join_rates or {})

    def join_rate(self, code):
        self.calls.append(("join_rate", code))
        if code not in self.join_rates:
            raise NotFound(f"organization {code} is not known to the registry")
        members, workers = self.join_rates[code]
        return {"code": code, "members": members, "workers": workers,
                "join_rate": round(members / workers, 4) if workers else None,
                "join_rate_percent": round(100 * members / workers) if workers else None}

    def __getattr__(self, method):
        def call(*args, **kwargs):
            self.calls.append((method, args))
            raise NotFound(f"the fake membership knows nothing ({method})")

        return call
