"""Reading settings from the environment: each value parsed once, at start-up, and checked.

``cmp/settings.py`` asks this reader for every variable it uses. A value
that does not parse is recorded in :attr:`Environment.problems` (with what
was expected) and the default stands in for it, so that every problem is
reported at once: ``manage.py check`` lists them as errors (``cmp/checks.py``)
and the web server and Celery refuse to start with any of them.
"""
import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")  # an RFC 9110 token, not too long


class Environment:
    def __init__(self, environ=None):
        self.environ = os.environ if environ is None else environ
        self.problems: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        return self.environ.get(name, default)

    def header(self, name: str, default: str = "") -> str:
        """An HTTP header's name (letters, digits and ``!#$%&'*+-.^_`|~``); empty turns the header off."""
        value = self.environ.get(name, default).strip()
        if value and not HEADER_NAME_RE.match(value):
            return self._problem(name, value, "a header name such as CloudFront-Viewer-Country-Region (or empty)",
                                 default)
        return value

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

    def ed25519_keys(self, name: str, dev_secret: str | None) -> tuple[tuple[str, Ed25519PrivateKey], ...]:
        """``kid1:key1,kid2:key2``, each key 32 random bytes in base64url (padding optional), from the
        variable or else from the file the variable ``<name>_FILE`` names (one or more per line); the
        first signs. Without any, a key derived from ``dev_secret`` (kid ``dev-ed25519``) when one is
        given (development), else none."""
        text = self.environ.get(name)
        source = name
        if text is None and self.environ.get(f"{name}_FILE"):
            source = f"{name}_FILE"
            try:
                with open(self.environ[source]) as file:
                    text = file.read()
            except OSError as error:
                return self._problem(source, self.environ[source], f"a readable file ({error.strerror})", ())
        keys = self._key_ring(source, text or "", Ed25519PrivateKey.from_private_bytes)
        if not keys and dev_secret and text is None:
            seed = hmac.new(dev_secret.encode(), b"cmp-ed25519-dev-key", hashlib.sha256).digest()
            keys = (("dev-ed25519", Ed25519PrivateKey.from_private_bytes(seed)),)
        return keys

    def ed25519_public_keys(self, name: str) -> tuple[tuple[str, Ed25519PublicKey], ...]:
        """``kid1:public1,…``: public halves (32 bytes, base64url) of retired keys, still published."""
        return self._key_ring(name, self.environ.get(name, ""), Ed25519PublicKey.from_public_bytes)

    def distinct_key_ids(self, **rings) -> None:
        """A key id names one key: the same id in two rings (or twice in one) is a problem."""
        seen: dict[str, str] = {}
        for name, ring in rings.items():
            for kid, _ in ring:
                if kid in seen:
                    self.problems.append(f"{name}: key id {kid!r} is also used in {seen[kid]}; each key needs its own id.")
                seen.setdefault(kid, name)

    def _key_ring(self, name, text, load):
        keys = []
        for item in text.replace("\n", ",").split(","):
            if not item.strip():
                continue
            kid, _, value = item.strip().partition(":")
            try:
                raw = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
            except (binascii.Error, ValueError):
                raw = b""
            if not kid.strip() or len(raw) != 32:
                return self._problem(name, "…", "kid:key pairs, each key 32 bytes in base64url "
                                     "(e.g. k2026:$(openssl rand 32 | basenc --base64url))", ())
            keys.append((kid.strip(), load(raw)))
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
