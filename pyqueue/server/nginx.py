"""The nginx configuration that puts the waiting room in front of a booking site.

nginx asks ``/v1/check`` (``auth_request``) before every request of the booking site: a
visitor with a valid pass goes through, anybody else is redirected to the waiting room. The
visitor API and the waiting-room page are proxied to pyqueue. ``pyqueue nginx-config`` prints
this; the README shows it, and a test runs it in a real nginx.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pyqueue.server.httpio import ROOM_ID_RULE, is_room_id

#: What nginx does when pyqueue cannot answer the check: the operator's choice.
ON_UNAVAILABLE = ("closed", "open")
#: Seconds a visitor is asked to wait before retrying while the waiting room is unavailable.
UNAVAILABLE_RETRY_SECONDS = 30

_TEMPLATE = """\
# pyqueue in front of a booking site (http context, e.g. /etc/nginx/conf.d/pyqueue.conf).
# When pyqueue cannot answer: fail {on_unavailable} (pyqueue nginx-config --on-unavailable).
upstream pyqueue {{
    server {pyqueue};
    keepalive 64;
}}

upstream booking_site {{
    server {booking};
}}

# Connections per client address. Many visitors may share one address (mobile networks,
# offices): keep this well above a browser's 6-8 connections.
limit_conn_zone $binary_remote_addr zone=pyqueue_per_address:10m;

server {{
    listen {listen};
    server_name {server_name};

    # Slow or idle clients are cut here, before they reach pyqueue or the booking site.
    limit_conn pyqueue_per_address 100;
    limit_conn_status 429;
    client_header_timeout 10s;
    client_body_timeout 10s;
    send_timeout 30s;
    keepalive_timeout 75s;
    large_client_header_buffers 4 8k;

    # The waiting room: the visitor API and the page, served by pyqueue.
    location /v1/ {{
        proxy_pass http://pyqueue;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        error_page 502 504 = @pyqueue_api_unavailable;
    }}
    location /rooms/ {{
        proxy_pass http://pyqueue;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        error_page 502 504 = @pyqueue_unavailable;
    }}

    # Asked before every request of the booking site: does the visitor hold a valid pass?
    # pyqueue answers from the pass alone (cookie pyqueue_pass_{room}), without any lookup.
    location = /_pyqueue/check {{
        internal;
        proxy_pass http://pyqueue/v1/check?room={room};
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        # A pyqueue that hangs counts as unavailable soon, not after nginx's default minute.
        proxy_connect_timeout 2s;
        proxy_read_timeout 5s;
    }}

    # The booking site: only with a pass; everybody else goes to the waiting room.
    location / {{
        auth_request /_pyqueue/check;
        auth_request_set $pyqueue_location $upstream_http_x_pyqueue_location;
        auth_request_set $pyqueue_ticket $upstream_http_x_pyqueue_ticket;
        error_page 401 = @waiting_room;
        # auth_request turns a check that fails (pyqueue or its store down, a 5xx, a timeout)
        # into a 500 of its own; the booking site's own errors pass through untouched.
        error_page 500 = @pyqueue_unavailable;
        proxy_set_header X-Pyqueue-Ticket $pyqueue_ticket;
        proxy_pass http://booking_site;
    }}

    location @waiting_room {{
        return 302 $pyqueue_location;
    }}
{fallback}
    location @pyqueue_api_unavailable {{
        default_type application/json;
        add_header Retry-After {retry} always;
        add_header Cache-Control no-store always;
        return 503 '{unavailable_json}';
    }}
}}
"""

# Fail closed: nobody reaches the booking site unchecked; visitors see a page that says so.
_FALLBACK_CLOSED = """
    # Fail closed: the waiting room cannot be asked, so nobody passes; visitors are told to
    # retry (the page reloads itself).
    location @pyqueue_unavailable {{
        default_type text/html;
        add_header Retry-After {retry} always;
        add_header Cache-Control no-store always;
        return 503 '{page}';
    }}
"""

# Fail open: overload at the booking site is preferred to locking everybody out.
_FALLBACK_OPEN = """
    # Fail open: the waiting room cannot be asked, so visitors go to the booking site
    # unchecked (without X-Pyqueue-Ticket).
    location @pyqueue_unavailable {{
        proxy_set_header X-Pyqueue-Ticket "";
        proxy_pass http://booking_site;
    }}
"""

#: The page a visitor sees while the waiting room cannot be asked (fail closed); the Caddy
#: configuration shows the same.
UNAVAILABLE_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    f'<meta http-equiv="refresh" content="{UNAVAILABLE_RETRY_SECONDS}">'
    "<title>Waiting room unavailable</title></head><body>"
    "<h1>Waiting room unavailable, please retry</h1>"
    "<p>The waiting room cannot be reached right now. This page tries again in "
    f"{UNAVAILABLE_RETRY_SECONDS} seconds.</p>"
    '<p lang="de">Der Warteraum ist gerade nicht erreichbar. Diese Seite versucht es in '
    f"{UNAVAILABLE_RETRY_SECONDS} Sekunden erneut.</p></body></html>"
)
#: The API's answer while the waiting room cannot be asked.
UNAVAILABLE_JSON = '{"error":{"code":"unavailable","message":"retry shortly"}}'


#: A host:port (or a port) as the proxies' configurations take it: nothing that could end a
#: directive or start another.
PLAIN_ADDRESS = re.compile(r"^[A-Za-z0-9.\-\[\]:]+$")


def check_proxy_inputs(room: str, addresses: Iterable[tuple[str, str]]) -> None:
    """Refuses (ValueError naming the option) a room id or an address that a proxy's
    configuration cannot take as it is: each is written into it unquoted."""
    if not is_room_id(room):
        raise ValueError(ROOM_ID_RULE)
    for name, value in addresses:
        if not PLAIN_ADDRESS.match(value):
            raise ValueError(f"{name}: {value!r} is not a plain address")


def nginx_sidecar_config(
    room: str,
    *,
    pyqueue: str = "127.0.0.1:8080",
    booking: str = "127.0.0.1:9000",
    listen: str = "80",
    server_name: str = "_",
    on_unavailable: str = "closed",
) -> str:
    """The configuration for ``room``; addresses are ``host:port``. ``on_unavailable`` is what
    nginx does when pyqueue cannot answer the check: "closed" shows a page asking to retry
    (503 with Retry-After), "open" lets visitors through to the booking site."""
    addresses = [("pyqueue", pyqueue), ("booking", booking), ("listen", listen)]
    if server_name != "_":  # nginx's name for "any"
        addresses.append(("server_name", server_name))
    check_proxy_inputs(room, addresses)
    if on_unavailable not in ON_UNAVAILABLE:
        raise ValueError(
            f"on_unavailable: {on_unavailable!r} is not one of {', '.join(ON_UNAVAILABLE)}"
        )
    retry = UNAVAILABLE_RETRY_SECONDS
    if on_unavailable == "closed":
        fallback = _FALLBACK_CLOSED.format(retry=retry, page=UNAVAILABLE_PAGE)
    else:
        fallback = _FALLBACK_OPEN.format()
    return _TEMPLATE.format(
        room=room,
        pyqueue=pyqueue,
        booking=booking,
        listen=listen,
        server_name=server_name,
        on_unavailable=on_unavailable,
        fallback=fallback,
        retry=retry,
        unavailable_json=UNAVAILABLE_JSON,
    )
