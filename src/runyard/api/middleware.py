"""The middleware stack around every route, outermost first.

Order matters: the request id and metrics see every request, including the ones hygiene turns
away; hygiene rejects forged Host/Origin headers and oversized bodies before a route's endpoint
spends a password check on them (authentication and authorisation are part of each route's
row in the route table, ``api/routes.py``).
"""

from __future__ import annotations

from starlette.middleware import Middleware

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
    return layers
