"""Reading settings from the environment: each value parsed once, at start-up, and checked.

``cmp/settings.py`` asks this reader for every variable it uses. A value
that does not parse is recorded in :attr:`Environment.problems` (with what
was expected) and the default stands in for it, so that every problem is
reported at once: ``manage.py check`` lists them as errors (``cmp/checks.py``)
and the web server and Celery refuse to start with any of them.
"""
import hashlib
import hmac
import ipaddress
import os

TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class Environment:
    def __init__(self, environ=None):
        self.environ = os.environ if environ is None else environ
        self.problems: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        return self.environ.get(name, default)

    def flag(self, name: str, default: bool) -> bool:
        value = self.environ.get(name)
        if value is None:
            return default
        value = value.strip().lower()
        if value not in TRUE | FALSE:
            return self._problem(name, value, "1 or 0 (also true/false, yes/no, on/off)", default)
        return value in TRUE

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        return self._number(name, default, int, minimum, "a whole number")

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        return self._number(name, default, float, minimum, "a number")

    def _number(self, name, default, kind, minimum, what):
        value = self.environ.get(name)
        if value is None:
            return default
        try:
            number = kind(value)
        except ValueError:
            number = None
        if number is None or not number >= minimum:
            return self._problem(name, value, f"{what} of at least {minimum:g}", default)
        return number

    def items(self, name: str, default: str = "") -> list[str]:
        """A comma-separated list."""
        return [item.strip() for item in self.environ.get(name, default).split(",") if item.strip()]

    def rate(self, name: str, default: str) -> tuple[int, int]:
        """``count/seconds``, e.g. ``600/60``; a count of 0 turns the limit off."""
        value = self.environ.get(name, default)
        count, slash, seconds = value.partition("/")
        try:
            parsed = int(count), int(seconds)
        except ValueError:
            parsed = None
        if not slash or parsed is None or parsed[0] < 0 or parsed[1] < 1:
            return self._problem(name, value, "count/seconds, such as 600/60 (0/60 turns the limit off)",
                                 self.rate_of(default))
        return parsed

    def signing_keys(self, name: str, dev_secret: str | None) -> tuple[tuple[str, bytes], ...]:
        """``kid1:secret1,kid2:secret2``; the first signs. Without any, a key derived from
        ``dev_secret`` (kid ``dev``) when one is given (development), else none."""
        keys = []
        for item in self.items(name):
            kid, sep, secret = item.partition(":")
            if not sep or not kid.strip() or not secret.strip():
                return self._problem(name, "…", "kid1:secret1,kid2:secret2 (a key id, a colon, a secret)", ())
            keys.append((kid.strip(), secret.strip().encode()))
        if not keys and dev_secret:
            keys.append(("dev", hmac.new(dev_secret.encode(), b"cmp-receipt-dev-key", hashlib.sha256).digest()))
        return tuple(keys)

    def networks(self, name: str) -> tuple:
        """Comma-separated CIDRs, e.g. ``10.0.0.0/8,127.0.0.1/32``."""
        try:
            return tuple(ipaddress.ip_network(item, strict=False) for item in self.items(name))
        except ValueError:
            return self._problem(name, self.environ.get(name), "comma-separated networks such as 10.1.0.0/16", ())

    def host_addresses(self, name: str) -> dict[str, str]:
        """Comma-separated ``host=address`` pairs; ``*.example.test=…`` covers subdomains."""
        hosts = {}
        for item in self.items(name):
            host, _, address = item.partition("=")
            try:
                ipaddress.ip_address(address.strip())
            except ValueError:
                return self._problem(name, item, "host=address pairs such as shop.test=127.0.0.2", {})
            hosts[host.strip().lower()] = address.strip()
        return hosts

    @staticmethod
    def rate_of(text: str) -> tuple[int, int]:
        count, _, seconds = text.partition("/")
        return int(count), int(seconds)

    def _problem(self, name, value, expected, default):
        self.problems.append(f"{name}={value!r} is not valid: expected {expected}.")
        return default
