"""Password checks that cannot be used to guess passwords or user names, or to exhaust the server.

- **Throttling** (the ``limits`` library, moving windows in memory): failed logins are counted per
  user name and per client address; past the limit (default 5 a minute per name, 10 per address)
  every login for that name or from that address is refused with 429 and ``Retry-After`` until the
  window moves on — the right password included, forms and HTTP Basic alike.
- **No user-name oracle**: an unknown name is verified against a dummy Argon2 hash, so it costs
  what a wrong password costs.
- **Bounded work**: at most ``max_concurrent`` Argon2 verifications run at once (each takes tens of
  MiB); a request that cannot get a slot within ``wait_seconds`` gets 503 with ``Retry-After``.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from typing import Final

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from clets_watch.web.users import User, UserStore, hash_password, verify_password

DEFAULT_PER_USER: Final = "5/minute"
DEFAULT_PER_CLIENT: Final = "10/minute"


class Throttled(Exception):
    """Too many failed logins for this user name or from this address."""

    def __init__(self, retry_after: int, scope: str) -> None:
        super().__init__(f"too many failed logins {scope}: try again in {retry_after} s")
        self.retry_after = retry_after


class Busy(Exception):
    """Every password-verification slot is taken."""

    retry_after = 5

    def __init__(self) -> None:
        super().__init__("the server is busy checking passwords: try again in a few seconds")


class LoginGuard:
    def __init__(
        self,
        users: UserStore,
        *,
        per_user: str = DEFAULT_PER_USER,
        per_client: str = DEFAULT_PER_CLIENT,
        max_concurrent: int = 2,
        wait_seconds: float = 10.0,
    ) -> None:
        self.users = users
        self.per_user: RateLimitItem = parse(per_user)
        self.per_client: RateLimitItem = parse(per_client)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.slots = threading.BoundedSemaphore(max_concurrent)
        self.wait_seconds = wait_seconds
        self._dummy = User("-", "viewer", hash_password(secrets.token_urlsafe(24) + "Dummy!"))

    def _retry_after(self, item: RateLimitItem, *ids: str) -> int:
        reset = self.limiter.get_window_stats(item, *ids).reset_time
        return max(1, math.ceil(reset - time.time()))

    def check(self, name: str, client: str) -> None:
        """Raise ``Throttled`` when this name or this address is over its failure limit."""
        for item, ids, scope in (
            (self.per_user, ("user", name.casefold()), "for this user"),
            (self.per_client, ("client", client), "from this address"),
        ):
            if not self.limiter.test(item, *ids):
                raise Throttled(self._retry_after(item, *ids), scope)

    def failed(self, name: str, client: str) -> None:
        self.limiter.hit(self.per_user, "user", name.casefold())
        self.limiter.hit(self.per_client, "client", client)

    def verify(self, user: User | None, password: str) -> bool:
        """Verify under a concurrency slot; an unknown user costs what a known one costs."""
        if not self.slots.acquire(timeout=self.wait_seconds):
            raise Busy()
        try:
            ok = verify_password(user or self._dummy, password)
        finally:
            self.slots.release()
        return ok and user is not None

    def authenticate(self, name: str, password: str, client: str) -> User | None:
        """The user when name and password match; None (and a counted failure) otherwise.
        Raises ``Throttled`` or ``Busy`` before any password is checked."""
        self.check(name, client)
        user = self.users.get(name)
        if self.verify(user, password):
            return user
        self.failed(name, client)
        return None
