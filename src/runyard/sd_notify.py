"""systemd's readiness protocol: one datagram (``READY=1``, ``STOPPING=1``) to ``$NOTIFY_SOCKET``.

Written here rather than taken from a library: it is a few lines, and the Python bindings
need a compiler and libsystemd to install. A socket name starting with ``@`` is in Linux's
abstract namespace (the ``@`` stands for a leading NUL byte).
"""

from __future__ import annotations

import logging
import socket

log = logging.getLogger("runyard.systemd")


def notify(address: str | None, state: str) -> bool:
    """Send ``state`` to the service manager at ``address``; False when there is none or it
    cannot be reached (a readiness message must never stop the server)."""
    if not address:
        return False
    target = "\0" + address[1:] if address.startswith("@") else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("could not notify the service manager (%s): %s", state, exc)
        return False
    return True
