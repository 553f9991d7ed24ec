"""Throwaway certificates for local TLS clusters and tests, made with the `openssl`
command: a CA, a server certificate that names the given hosts (IP addresses and DNS
names), and a client certificate. Nothing here is fit to protect real data; the keys are
unencrypted files in the folder given.

The server certificate is valid for both server and client use, because Redis nodes
present it when they dial each other (cluster bus, replication).
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Certificates", "CertificateError", "make_certificates"]

DAYS = 30


class CertificateError(RuntimeError):
    """openssl is missing or refused to make a certificate."""


@dataclass(frozen=True)
class Certificates:
    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.folder / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.folder / "client.key"

    def complete(self) -> bool:
        files = (self.ca, self.server_cert, self.server_key, self.client_cert, self.client_key)
        return all(f.is_file() for f in files)


def make_certificates(
    folder: Path | str, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"), *, reuse: bool = True
) -> Certificates:
    """A CA and its server and client certificates in `folder` (made once, then reused
    unless `reuse=False`). Each call into a new folder makes a new, unrelated CA."""
    certs = Certificates(Path(folder))
    if reuse and certs.complete():
        return certs
    if shutil.which("openssl") is None:
        raise CertificateError(
            "openssl was not found on PATH; install it (sudo apt-get install openssl) to make "
            "certificates for a TLS cluster"
        )
    certs.folder.mkdir(parents=True, exist_ok=True)
    names = ",".join(f"IP:{h}" if _is_ip(h) else f"DNS:{h}" for h in hosts)
    ca_key = certs.folder / "ca.key"
    _openssl(
        "req", "-x509", "-new", "-nodes", *_KEY, "-keyout", ca_key, "-out", certs.ca,
        "-days", str(DAYS), "-subj", "/CN=rediscluster_opt test CA",
    )  # fmt: skip
    _sign(certs, "server", f"subjectAltName={names}\nextendedKeyUsage=serverAuth,clientAuth\n")
    _sign(certs, "client", "extendedKeyUsage=clientAuth\n")
    return certs


_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")  # fast to make, accepted everywhere


def _sign(certs: Certificates, name: str, extensions: str) -> None:
    folder = certs.folder
    request, extfile = folder / f"{name}.csr", folder / f"{name}.ext"
    extfile.write_text(extensions)
    _openssl(
        "req", "-new", "-nodes", *_KEY, "-keyout", folder / f"{name}.key", "-out", request,
        "-subj", f"/CN=rediscluster_opt test {name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", request, "-CA", certs.ca, "-CAkey", folder / "ca.key",
        "-CAcreateserial", "-out", folder / f"{name}.crt", "-days", str(DAYS), "-extfile", extfile,
    )  # fmt: skip
    request.unlink()
    extfile.unlink()


def _openssl(*args: object) -> None:
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise CertificateError(
            f"openssl {args[0]} failed (exit {done.returncode}): {done.stderr.strip()[-1000:]}"
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
