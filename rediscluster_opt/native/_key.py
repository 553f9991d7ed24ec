"""What a native build is of: the Cython source and the interpreter's ABI. Standard
library only, so setup.py can run it at install time without the package's dependencies."""

from __future__ import annotations

import hashlib
import sysconfig


def source_key(source: bytes) -> str:
    digest = hashlib.sha256(sysconfig.get_config_var("EXT_SUFFIX").encode() + b"\0" + source)
    return digest.hexdigest()[:16]
