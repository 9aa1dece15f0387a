"""The Caddy configuration that puts the waiting room in front of a booking site.

Caddy asks ``/v1/check`` (``forward_auth``) before every request of the booking site. The
check's own answers are made for nginx's ``auth_request`` (204, or 401 with the waiting room's
location in a header), and Caddy's plain ``forward_auth`` hands a 401 to the visitor as it is:
a browser would show the JSON instead of following the location. So the configuration turns a
401 into a redirect for browsers (``handle_response``) and passes it on, unchanged, to every
other client (a script or the booking site's own ``fetch`` gets a machine-readable answer
rather than a redirect to an HTML page). When pyqueue cannot answer, Caddy fails closed, as
the nginx configuration does by default. ``pyqueue caddy-config`` prints this; the README shows
it, and a test runs it in a real Caddy.
"""

from __future__ import annotations

import re

from pyqueue.server.nginx import (
    UNAVAILABLE_JSON,
    UNAVAILABLE_PAGE,
    UNAVAILABLE_RETRY_SECONDS,
    check_proxy_inputs,
)

_TEMPLATE = """\
# pyqueue in front of a booking site (a site block of a Caddyfile; pyqueue caddy-config).
# Browsers without a pass are redirected to the waiting room; other clients get the check's
# 401 with the waiting room's location. When pyqueue cannot answer: fail closed.
{site} {{
	# The waiting room: the visitor API and the page, served by pyqueue.
	handle /v1/* {{
		reverse_proxy {pyqueue}
	}}
	handle /rooms/* {{
		reverse_proxy {pyqueue}
	}}

	# The booking site: only with a pass; everybody else goes to the waiting room.
	handle {{
		# `route` keeps the order written here: a client's own X-Pyqueue-Ticket goes first.
		route {{
			request_header -X-Pyqueue-Ticket
			# Asked before every request: does the visitor hold a valid pass? pyqueue answers
			# from the pass alone (cookie pyqueue_pass_{room}), without any lookup.
			forward_auth {pyqueue} {{
				uri /v1/check?room={room}
				copy_headers X-Pyqueue-Ticket
				# A pyqueue that hangs counts as unavailable soon.
				transport http {{
					dial_timeout 2s
					response_header_timeout 5s
				}}
				@no_pass status 401
				handle_response @no_pass {{
					@browser header Accept *text/html*
					handle @browser {{
						redir {{rp.header.X-Pyqueue-Location}} 302
					}}
					handle {{
						copy_response
					}}
				}}
				@unavailable status 5xx
				handle_response @unavailable {{
					error "the waiting room cannot answer" 502
				}}
			}}
			reverse_proxy {booking}
		}}
	}}

	# Fail closed: the waiting room cannot be asked (stopped, hanging, or its store down), so
	# nobody passes; visitors are told to retry (the page reloads itself). Errors of the
	# booking site itself are left as they are.
	handle_errors {{
		@pyqueue_api_unavailable {{
			expression `{{http.reverse_proxy.upstream.hostport}} == "{pyqueue}"`
			path /v1/*
		}}
		handle @pyqueue_api_unavailable {{
			header Content-Type application/json
			header Retry-After {retry}
			header Cache-Control no-store
			respond `{unavailable_json}` 503
		}}
		@pyqueue_unavailable expression `{{http.reverse_proxy.upstream.hostport}} == "{pyqueue}"`
		handle @pyqueue_unavailable {{
			header Content-Type "text/html; charset=utf-8"
			header Retry-After {retry}
			header Cache-Control no-store
			respond `{page}` 503
		}}
	}}
}}
"""

#: A Caddy site address: a host, a port, or both, with an optional scheme. ``http://`` keeps
#: Caddy from obtaining a certificate for the site.
_SITE = re.compile(r"^(https?://)?[A-Za-z0-9.\-\[\]]*(:[0-9]{1,5})?$")


def caddy_sidecar_config(
    room: str,
    *,
    pyqueue: str = "127.0.0.1:8080",
    booking: str = "127.0.0.1:9000",
    site: str = ":80",
) -> str:
    """The Caddyfile site block for ``room``. ``pyqueue`` and ``booking`` are ``host:port``;
    ``site`` is the Caddy site address (``:80``, ``booking.example.org`` for Caddy's automatic
    HTTPS, ``http://127.0.0.1:8000``)."""
    check_proxy_inputs(room, (("pyqueue", pyqueue), ("booking", booking)))
    if site in ("", "http://", "https://") or not _SITE.match(site):
        raise ValueError(f"site: {site!r} is not a Caddy site address (host, :port or both)")
    return _TEMPLATE.format(
        room=room,
        pyqueue=pyqueue,
        booking=booking,
        site=site,
        retry=UNAVAILABLE_RETRY_SECONDS,
        page=UNAVAILABLE_PAGE,
        unavailable_json=UNAVAILABLE_JSON,
    )
