"""Connection URLs: ``redis://[[user]:password@]host:port[/db][?options]`` and ``rediss://``
(TLS), following redis-py's conventions where they overlap. Pure parsing, no I/O.

TLS options take redis-py's names: ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``
(paths), ``ssl_check_hostname=false`` (verify the chain, not the name) and
``ssl_cert_reqs=none`` (verify nothing; test setups only). They are refused on redis://.

Several seeds may share one URL (``redis://u:p@h1:7000,h2:7001``) or come as a list of
URLs with the same credentials. The password may come from an environment variable
(``?password_env=NAME``) so it never has to be written down. `redacted()` is the only
form of a URL that may be logged or recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from .address import parse_address

__all__ = ["ConnectionSpec", "TLSSettings", "parse_url", "redacted"]

SCHEMES = {"redis": False, "rediss": True}  # scheme -> TLS
BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class TLSSettings:
    """Where a TLS context comes from (`rediscluster_opt.tls` builds it): paths, not
    file contents, so it can be recorded."""

    ca_certs: str | None = None  # PEM bundle of trusted CAs; None: the system's
    certfile: str | None = None  # client certificate, for servers that ask for one
    keyfile: str | None = None
    check_hostname: bool = True
    verify: bool = True

    def query(self) -> str:
        """The URL query that gives these settings back ('' for the defaults)."""
        parts = [f"ssl_{name}={value}" for name, value in self._paths() if value is not None]
        if not self.check_hostname:
            parts.append("ssl_check_hostname=false")
        if not self.verify:
            parts.append("ssl_cert_reqs=none")
        return "&".join(parts)

    def _paths(self) -> tuple[tuple[str, str | None], ...]:
        return (("ca_certs", self.ca_certs), ("certfile", self.certfile), ("keyfile", self.keyfile))


@dataclass(frozen=True)
class ConnectionSpec:
    addresses: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr or a log
    tls: TLSSettings | None = None  # None: plain TCP
    db: int = 0
    client_name: str | None = None
    password_env: str | None = None  # the variable the password came from, if it did

    def redacted(self) -> str:
        """The URL without its password: the only form that may be logged or recorded.
        A password from the environment is named by its variable (a URL that still
        works), one written in the URL becomes ***."""
        scheme = "redis" if self.tls is None else "rediss"
        user = self.username or ""
        inline = self.password is not None and self.password_env is None
        secret = f"{user}:***@" if inline else (f"{user}@" if user else "")
        options = [] if self.tls is None else [self.tls.query()]
        options.append(f"password_env={self.password_env}" if self.password_env else "")
        query = "&".join(o for o in options if o)
        return f"{scheme}://{secret}{','.join(self.addresses)}" + (f"?{query}" if query else "")


def parse_url(urls: str | Iterable[str]) -> ConnectionSpec:
    """One URL, or several with the same scheme and credentials; ValueError names what is
    wrong (never echoing a password)."""
    items = [urls] if isinstance(urls, str) else list(urls)
    if not items:
        raise ValueError("give at least one URL, e.g. 'redis://127.0.0.1:7000'")
    specs = [_parse_one(url) for url in items]
    first = specs[0]
    for other in specs[1:]:
        if (other.username, other.password, other.tls, other.db) != (
            first.username,
            first.password,
            first.tls,
            first.db,
        ):
            raise ValueError(
                f"URLs {first.redacted()} and {other.redacted()} differ in scheme, credentials or db; "
                "every seed of one cluster takes the same"
            )
    addresses = tuple(dict.fromkeys(a for s in specs for a in s.addresses))
    return ConnectionSpec(
        addresses, first.username, first.password, first.tls, first.db, first.client_name, first.password_env
    )


def _parse_one(url: str) -> ConnectionSpec:
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"bad URL {redacted(str(url))!r}: expected redis://host:port or rediss://host:port")
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in SCHEMES:
        raise ValueError(f"bad URL {redacted(url)!r}: the scheme must be redis:// or rediss://")
    authority_end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    if "@" in rest[authority_end:]:
        # "u:pa?ss@host": the host part would be a piece of the password; never echo it
        raise ValueError(
            f"bad URL {redacted(url)!r}: a '/', '?' or '#' in the user name or password must be "
            "percent-encoded (%2F, %3F, %23), as must an '@' in a path or an option"
        )
    rest, _, query = rest.partition("?")
    userinfo, at, hosts_and_path = rest.rpartition("@")
    hosts, _, path = hosts_and_path.partition("/")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    from_env = options.pop("password_env", None)
    user, colon, secret = userinfo.partition(":")
    username: str | None = unquote(user) or None
    password: str | None = unquote(secret) if colon else None
    if at and not colon and from_env is None:
        # redis-py: "redis://secret@host" is a password alone, not a user
        password = username
        username = None
    if from_env is not None:
        if from_env not in os.environ:
            raise ValueError(f"URL {redacted(url)!r} names password_env={from_env}, which is not set")
        password = os.environ[from_env]
    db_text = path.strip("/") or options.pop("db", "0")
    if not db_text.isdigit():
        raise ValueError(f"bad URL {redacted(url)!r}: the database must be a number, got {db_text!r}")
    client_name = options.pop("client_name", None)
    tls = _tls_settings(url, options) if SCHEMES[scheme.lower()] else None
    ssl_options = sorted(name for name in options if name.startswith("ssl_"))
    if ssl_options:
        raise ValueError(f"bad URL {redacted(url)!r}: {', '.join(ssl_options)} only go with rediss:// (TLS)")
    if options:
        raise ValueError(f"bad URL {redacted(url)!r}: unknown option(s) {', '.join(sorted(options))}")
    addresses = []
    for host in hosts.split(","):
        host = host.strip()
        if host.endswith("]") or (host and ":" not in host):
            host = f"{host}:6379"  # no port given: Redis's own
        try:
            addresses.append(parse_address(host))
        except ValueError as exc:
            raise ValueError(f"bad URL {redacted(url)!r}: {exc}") from None
    return ConnectionSpec(tuple(addresses), username, password, tls, int(db_text), client_name, from_env)


def _tls_settings(url: str, options: dict[str, str]) -> TLSSettings:
    """Pops the ssl_* options of a rediss:// URL."""

    def flag(name: str, default: bool) -> bool:
        text = options.pop(name, None)
        if text is None:
            return default
        if text.lower() not in BOOLEANS:
            raise ValueError(f"bad URL {redacted(url)!r}: {name} must be true or false, got {text!r}")
        return BOOLEANS[text.lower()]

    requirement = options.pop("ssl_cert_reqs", "required").lower()
    if requirement not in ("none", "required"):
        raise ValueError(
            f"bad URL {redacted(url)!r}: ssl_cert_reqs must be none or required, got {requirement!r}"
        )
    return TLSSettings(
        ca_certs=options.pop("ssl_ca_certs", None),
        certfile=options.pop("ssl_certfile", None),
        keyfile=options.pop("ssl_keyfile", None),
        check_hostname=flag("ssl_check_hostname", True),
        verify=requirement == "required",
    )


def redacted(url: str) -> str:
    """The URL with its password replaced by ***: the only form that may be logged.
    Everything up to the last '@' is credentials here, even where a '?', '/' or '#' the
    user forgot to percent-encode would end them for a URL parser: masking too much is
    safe, showing a piece of a password is not."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, hosts = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user + ':' if colon else ''}***@{hosts}"
