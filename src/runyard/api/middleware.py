"""The middleware stack around every route, outermost first.

Order matters: the request id and metrics see every request, including the ones hygiene or
auth turn away; hygiene rejects forged Host/Origin headers and oversized bodies before auth
spends a password check on them.
"""

from __future__ import annotations

from starlette.middleware import Middleware

from runyard.api.auth import AuthMiddleware
from runyard.api.hygiene import RequestHygiene
from runyard.api.observe import Meters, RequestContext, RequestMetrics
from runyard.settings import Settings


def stack(settings: Settings) -> list[Middleware]:
    layers: list[Middleware] = []
    # 1. request id + structured access log   (api/observe.py)
    layers.append(Middleware(RequestContext))
    # 2. Prometheus request metrics            (api/observe.py)
    if settings.metrics:
        layers.append(Middleware(RequestMetrics, meters=Meters()))
    # 3. request hygiene: Host, Origin/CORS, content type, body size, security headers
    #                                          (api/hygiene.py)
    if not settings.disable_security_middleware:
        layers.append(Middleware(RequestHygiene, settings=settings))
    # 4. authentication (401), then the route's own authorisation (403)  (api/auth.py)
    if settings.auth:  # off: not installed at all, so no request pays for it
        layers.append(Middleware(AuthMiddleware, settings=settings))
    return layers
