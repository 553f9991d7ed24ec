"""TLS settings for connections to Redis: one `ssl.SSLContext`, built from CA / client
certificate / key paths or given ready-made, shared by the client, the admin helper and
the launcher.

Server names are verified by default: the certificate must name the host (or IP address)
the client dialled, which for a cluster is the address the topology reports. Turning
that off (`check_hostname=False`) still verifies the chain; `verify=False` trusts any
certificate and exists for throwaway test setups only.
"""

from __future__ import annotations

import ssl
from dataclasses import asdict
from pathlib import Path

from .core.url import TLSSettings

__all__ = ["TLSSettings", "as_tls_context", "tls_context"]


def tls_context(
    *,
    ca_certs: str | Path | None = None,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
    check_hostname: bool = True,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client-side context. ValueError names a missing or unreadable file."""
    for name, path in (("ca_certs", ca_certs), ("certfile", certfile), ("keyfile", keyfile)):
        if path is not None and not Path(path).is_file():
            raise ValueError(f"TLS {name}: no such file {str(path)!r}")
    if keyfile is not None and certfile is None:
        raise ValueError("TLS keyfile given without its certfile")
    context = ssl.create_default_context(cafile=None if ca_certs is None else str(ca_certs))
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = check_hostname
    if certfile is not None:
        try:
            context.load_cert_chain(str(certfile), None if keyfile is None else str(keyfile))
        except ssl.SSLError as exc:
            problem = exc.reason or exc
            raise ValueError(f"TLS certfile {str(certfile)!r} / keyfile {keyfile!r}: {problem}") from None
    return context


def as_tls_context(tls: ssl.SSLContext | TLSSettings | bool | None) -> ssl.SSLContext | None:
    """What a client's `tls=` option means: None/False plain TCP, True the system's CAs,
    `TLSSettings` its paths, or a context used as given."""
    if tls is None or tls is False:
        return None
    if tls is True:
        return tls_context()
    if isinstance(tls, TLSSettings):
        return tls_context(**asdict(tls))
    if isinstance(tls, ssl.SSLContext):
        return tls
    raise ValueError(f"tls must be an ssl.SSLContext, TLSSettings or a bool, got {type(tls).__name__}")
