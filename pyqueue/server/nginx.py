"""The nginx configuration that puts the waiting room in front of a booking site.

nginx asks ``/v1/check`` (``auth_request``) before every request of the booking site: a
visitor with a valid pass goes through, anybody else is redirected to the waiting room. The
visitor API and the waiting-room page are proxied to pyqueue. ``pyqueue nginx-config`` prints
this; the README shows it, and a test runs it in a real nginx.
"""

from __future__ import annotations

import re

from pyqueue.server.httpio import ROOM_ID_RULE, is_room_id

_TEMPLATE = """\
# pyqueue in front of a booking site (http context, e.g. /etc/nginx/conf.d/pyqueue.conf).
upstream pyqueue {{
    server {pyqueue};
    keepalive 64;
}}

upstream booking_site {{
    server {booking};
}}

server {{
    listen {listen};
    server_name {server_name};

    # The waiting room: the visitor API and the page, served by pyqueue.
    location /v1/ {{
        proxy_pass http://pyqueue;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }}
    location /rooms/ {{
        proxy_pass http://pyqueue;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
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
    }}

    # The booking site: only with a pass; everybody else goes to the waiting room.
    location / {{
        auth_request /_pyqueue/check;
        auth_request_set $pyqueue_location $upstream_http_x_pyqueue_location;
        auth_request_set $pyqueue_ticket $upstream_http_x_pyqueue_ticket;
        error_page 401 = @waiting_room;
        proxy_set_header X-Pyqueue-Ticket $pyqueue_ticket;
        proxy_pass http://booking_site;
    }}

    location @waiting_room {{
        return 302 $pyqueue_location;
    }}
}}
"""

_ADDRESS = re.compile(r"^[A-Za-z0-9.\-\[\]:]+$")


def nginx_sidecar_config(
    room: str,
    *,
    pyqueue: str = "127.0.0.1:8080",
    booking: str = "127.0.0.1:9000",
    listen: str = "80",
    server_name: str = "_",
) -> str:
    """The configuration for ``room``; addresses are ``host:port``."""
    if not is_room_id(room):
        raise ValueError(ROOM_ID_RULE)
    for name, value in (
        ("pyqueue", pyqueue),
        ("booking", booking),
        ("listen", listen),
        ("server_name", server_name),
    ):
        if not _ADDRESS.match(value) and not (name == "server_name" and value == "_"):
            raise ValueError(f"{name}: {value!r} is not a plain address")
    return _TEMPLATE.format(
        room=room, pyqueue=pyqueue, booking=booking, listen=listen, server_name=server_name
    )
