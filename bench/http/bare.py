"""The baseline of the HTTP benchmark: a bare aiohttp handler on uvloop returning constant JSON.

Whatever pyqueue's status poll costs beyond this is pyqueue's own cost.
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web

BODY = b'{"state":"waiting","ahead":1000}'


async def hello(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


async def main(host: str, port: int) -> None:
    import asyncio

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=1024, reuse_address=True).start()
    print(f"listening on {host}:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(main(args.host, args.port))
