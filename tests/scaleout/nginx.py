"""Debian's nginx as the load balancer in front of several ``runyard server`` replicas.

Each instance runs in the foreground with its own config, pid file, logs and temporary
directories under a test directory, listening on a free 127.0.0.1 port. The access log has one
tab-separated line a request with every upstream nginx tried, so tests can count fail-overs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.artifacts.services import _stop, _wait_for_port
from tests.servers import free_port

NGINX = Path("/usr/sbin/nginx")
_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")

# What a production config needs for runyard replicas (docs/scale-out.md shows the same):
# retry a request on the next replica when one is down or dies mid-request, POSTs included
# (runyard's logging writes are idempotent), give up on a dead replica quickly, and stream
# artifact bodies instead of spooling them to disk first.
CONFIG = """\
daemon off;
worker_processes 1;
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format upstreams '$status\\t$request_method\\t$uri\\t$upstream_addr\\t$upstream_status';
    access_log {dir}/access.log upstreams;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    upstream runyard {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;  # runyard enforces its own request limits
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout 500ms;
        proxy_read_timeout 60s;
        proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        proxy_next_upstream_tries 3;
        proxy_next_upstream_timeout 15s;

        location / {{
            proxy_pass http://runyard;
        }}
        location ~ ^/(ajax-)?api/2\\.0/mlflow-artifacts/ {{
            proxy_pass http://runyard;
            proxy_request_buffering off;
            proxy_buffering off;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Access:
    """One access-log line: what the client got and which replicas nginx tried for it."""

    status: int
    method: str
    uri: str
    upstreams: tuple[str, ...]  # "127.0.0.1:port" in the order tried
    upstream_statuses: tuple[str, ...]

    @property
    def failed_over(self) -> bool:
        return len(self.upstreams) > 1


class Nginx:
    """``nginx -p DIR -c DIR/nginx.conf`` balancing over ``upstream_ports`` on 127.0.0.1."""

    @staticmethod
    def missing() -> str | None:
        if not NGINX.exists():
            return "nginx is not installed (/usr/sbin/nginx; scripts/services installs it)"
        return None

    def __init__(self, workdir: Path, upstream_ports: Sequence[int]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        for name in _TEMP_DIRS:
            (workdir / name).mkdir(exist_ok=True)
        self.dir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(
            f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;" for p in upstream_ports
        )
        # A root master would hand requests to workers running as "nobody", who cannot enter
        # the test's private directories; any other user's nginx ignores the directive.
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = workdir / "nginx.conf"
        conf.write_text(CONFIG.format(dir=workdir, port=self.port, servers=servers, user=user))
        self.log = workdir / "nginx.out"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                # -e: the error log before the config is read (else /var/log/nginx/error.log)
                [str(NGINX), "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        _wait_for_port(self.port, self.proc, self.log)

    def accesses(self) -> list[Access]:
        found = []
        path = self.dir / "access.log"
        for line in path.read_text().splitlines() if path.exists() else []:
            status, method, uri, addrs, statuses = line.split("\t")
            found.append(Access(int(status), method, uri, _split(addrs), _split(statuses)))
        return found

    def errors(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        _stop(self.proc)


def _split(field: str) -> tuple[str, ...]:
    """nginx joins the upstreams of one request with ", " (and " : " across internal redirects)."""
    if field == "-":
        return ()
    return tuple(p.strip() for p in field.replace(" : ", ", ").split(", ") if p.strip())
