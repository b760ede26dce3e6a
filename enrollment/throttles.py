"""Rate limits on the endpoints that guess secrets (access-code redemption, log-in) or cost the
school something per call (sign-up creates an account, a password reset sends an e-mail), per
ARCHITECTURE.md, Security rules: per IP, per account and globally, in Redis.

DRF's ``SimpleRateThrottle`` keeps a sliding window of request times per key in the default
cache, which is Redis and tenant-keyed (``django_tenants.cache.make_key``), so every bucket is
per school; while Redis is unreachable, in the process's memory (``tenants.throttling``). An
exceeded limit raises ``Throttled``, answered 429 ``RATE_LIMITED`` with ``Retry-After`` by
``tenants.api.exception_handler``. Every attempt counts, successful or not, so a correct guess
cannot be told from a wrong one by whether it was counted. The window is read and written
without a lock: a burst of simultaneous requests can overshoot a limit by
the number of requests in flight, which does not change what a guesser can do.

Rates are REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (settings, from the environment), by scope:
``redeem_ip``, ``redeem_account``, ``redeem_global``, ``login_ip``, ``login_account``,
``register_ip``, ``register_ip_10m``, ``register_school``, ``password_reset_ip``,
``password_reset_account``. A rate is ``<requests>/<period>``, the period a unit (``s``,
``m``/``min``, ``h``/``hour``, ``d``/``day``) optionally preceded by a count of units, as
django-allauth writes them: ``30/m``, ``60/10m``, ``300/h``. The
client IP is REMOTE_ADDR, or the X-Forwarded-For entry NUM_PROXIES hops from the end when
REST_FRAMEWORK["NUM_PROXIES"] is set (DRF's ``get_ident``).
"""

import hashlib
import re

from tenants.throttling import RateThrottle

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str | None) -> tuple[int | None, int | None]:
    """``(requests, window seconds)`` of a rate such as ``30/m``, ``60/10m`` or ``20/hour``;
    ``(None, None)`` for no rate. Raises ``ValueError`` for anything else."""
    if rate is None:
        return None, None
    match = _RATE.match(rate)
    if match is None:
        raise ValueError(f"Not a rate: {rate!r} (expected e.g. '30/m' or '60/10m').")
    requests, count, unit = match.groups()
    return int(requests), int(count or 1) * _UNIT_SECONDS[unit]


class _ScopedThrottle(RateThrottle):
    def parse_rate(self, rate):
        return rate_parse(rate)

    def ident_of(self, request) -> str | None:  # pragma: no cover - overridden
        raise TypeError("subclasses say what a bucket is keyed by")

    def get_cache_key(self, request, view) -> str | None:
        ident = self.ident_of(request)
        if ident is None:
            return None  # nothing to key on: not limited by this bucket
        return self.cache_format % {"scope": self.scope, "ident": ident}


class RedeemIpThrottle(_ScopedThrottle):
    """Code redemptions per client IP."""

    scope = "redeem_ip"

    def ident_of(self, request) -> str:
        return self.get_ident(request)


class RedeemAccountThrottle(_ScopedThrottle):
    """Code redemptions per student account."""

    scope = "redeem_account"

    def ident_of(self, request) -> str | None:
        user = request.user
        return str(user.pk) if user and user.is_authenticated else None


class RedeemGlobalThrottle(_ScopedThrottle):
    """All code redemptions of the school together (a distributed guesser's ceiling)."""

    scope = "redeem_global"

    def ident_of(self, request) -> str:
        return "all"


class LoginIpThrottle(_ScopedThrottle):
    """Log-in attempts per client IP."""

    scope = "login_ip"

    def ident_of(self, request) -> str:
        return self.get_ident(request)


def _email_ident(request) -> str | None:
    """SHA-256 of the e-mail address in the request body (never kept in clear), or ``None``."""
    email = request.data.get("email") if hasattr(request.data, "get") else None
    if not isinstance(email, str) or not email.strip():
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class LoginAccountThrottle(_ScopedThrottle):
    """Log-in attempts per e-mail address tried, so one account cannot be guessed at from many
    IPs."""

    scope = "login_account"

    def ident_of(self, request) -> str | None:
        return _email_ident(request)


class RegisterIpThrottle(_ScopedThrottle):
    """Account sign-ups (API and sign-up page) per client IP and minute. A class signing up
    together behind one NAT address is one IP: the default (30/m) lets 30 students sign up
    within a minute."""

    scope = "register_ip"

    def ident_of(self, request) -> str:
        return self.get_ident(request)


class RegisterIpSustainedThrottle(RegisterIpThrottle):
    """Sign-ups per client IP over ten minutes (default 60/10m: two classes in a row), so an
    IP cannot keep up the per-minute rate."""

    scope = "register_ip_10m"


class RegisterSchoolThrottle(_ScopedThrottle):
    """All sign-ups of the school together, from every IP (default 300/h): the ceiling of a
    distributed sign-up flood."""

    scope = "register_school"

    def ident_of(self, request) -> str:
        return "all"


class PasswordCheckAccountThrottle(_ScopedThrottle):
    """Password checks of a signed-in account (password change, e-mail change, deletion),
    counted in the log-in bucket of the account's e-mail (``login_account``): a stolen token
    gives no more password guesses than the log-in form."""

    scope = "login_account"

    def ident_of(self, request) -> str | None:
        user = request.user
        if not (user and user.is_authenticated):
            return None
        return hashlib.sha256(user.email.strip().lower().encode()).hexdigest()


class PasswordResetIpThrottle(_ScopedThrottle):
    """Password-reset requests per client IP."""

    scope = "password_reset_ip"

    def ident_of(self, request) -> str:
        return self.get_ident(request)


class PasswordResetAccountThrottle(_ScopedThrottle):
    """Password-reset requests per e-mail address, so nobody can flood one inbox with reset
    mail from many IPs."""

    scope = "password_reset_account"

    def ident_of(self, request) -> str | None:
        return _email_ident(request)


REDEEM_THROTTLES = [RedeemIpThrottle, RedeemAccountThrottle, RedeemGlobalThrottle]
LOGIN_THROTTLES = [LoginIpThrottle, LoginAccountThrottle]
REGISTER_THROTTLES = [RegisterIpThrottle, RegisterIpSustainedThrottle, RegisterSchoolThrottle]
PASSWORD_CHECK_THROTTLES = [PasswordCheckAccountThrottle]
PASSWORD_RESET_THROTTLES = [PasswordResetIpThrottle, PasswordResetAccountThrottle]
