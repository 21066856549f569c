"""The audit's own forward proxy: every connection of the audit's browser (redirects, meta
refreshes, iframes, WebSockets, service workers included) and of the audit's own HTTP requests
goes through it, and it connects only to addresses the AddressPolicy allows.

Routing in Playwright cannot do this: it never sees the target of a redirect, nor WebSockets.
The proxy resolves each name once (addresses.Resolver) and connects to the address it checked,
so a name cannot resolve to a public address for the check and a private one for the connection.
Plain HTTP requests go one per connection (`Connection: close` both ways), so a kept-alive
connection can never carry a request to another host than the one checked.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import urlsplit

from .addresses import AddressPolicy, NotResolved, Resolver

HEAD_LIMIT = 64 * 1024
CONNECT_SECONDS = 10.0
HOP_HEADERS = {"proxy-connection", "proxy-authorization", "connection", "keep-alive"}


@dataclass
class Refusal:
    target: str  # "http://host:port/path" without query, or "host:port" for a tunnel
    reason: str


@dataclass
class AuditProxy:
    resolver: Resolver
    policy: AddressPolicy
    on_refusal: Callable[[Refusal], None] = lambda refusal: None
    server: Optional[asyncio.base_events.Server] = None
    tasks: set = field(default_factory=set)

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, asyncio.TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def _handle(self, reader, writer) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        tunnel = method.upper() == "CONNECT"
        if tunnel:
            host, _, port_text = target.rpartition(":")
            port, shown = int(port_text), target
        else:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                await self._answer(writer, 400, "only http:// and CONNECT go through the audit's proxy")
                return
            host, port = parts.hostname, parts.port or 80
            shown = f"http://{parts.netloc}{parts.path}"
        try:
            addresses, port = await self.resolver.resolve(host, port)
        except NotResolved as error:
            await self._answer(writer, 502, str(error))
            return
        refused = self.policy.refusal(addresses)
        if refused:
            self.on_refusal(Refusal(shown, refused))
            await self._answer(writer, 403, f"blocked by the cookiegate audit: {refused}")
            return
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(asyncio.open_connection(addresses[0], port, limit=HEAD_LIMIT), CONNECT_SECONDS)
        except (OSError, asyncio.TimeoutError) as error:
            await self._answer(writer, 502, f"could not connect ({type(error).__name__})")
            return
        try:
            if tunnel:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                path = parts.path or "/"
                request = [f"{method} {path}{'?' + parts.query if parts.query else ''} {version}"]
                request += [line for line in lines[1:] if line and line.split(":", 1)[0].strip().lower() not in HOP_HEADERS]
                upstream_writer.write(("\r\n".join(request + ["Connection: close", "", ""])).encode("latin-1"))
                await upstream_writer.drain()
            await self._pipe(reader, writer, upstream_reader, upstream_writer, rewrite_head=not tunnel)
        finally:
            upstream_writer.close()

    async def _pipe(self, reader, writer, upstream_reader, upstream_writer, rewrite_head: bool) -> None:
        async def copy(source, sink, first: bool):
            if first:
                # The answer's head with `Connection: close`: the browser opens a new connection
                # (checked again) for its next request.
                head = await source.readuntil(b"\r\n\r\n")
                lines = [line for line in head.decode("latin-1").split("\r\n") if line and line.split(":", 1)[0].strip().lower() not in HOP_HEADERS]
                sink.write(("\r\n".join(lines + ["Connection: close", "", ""])).encode("latin-1"))
            while True:
                chunk = await source.read(65536)
                if not chunk:
                    break
                sink.write(chunk)
                await sink.drain()

        down = asyncio.ensure_future(copy(upstream_reader, writer, rewrite_head))
        up = asyncio.ensure_future(copy(reader, upstream_writer, False))
        try:
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (down, up):
                task.cancel()
            await asyncio.gather(down, up, return_exceptions=True)

    @staticmethod
    async def _answer(writer, status: int, message: str) -> None:
        reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
        body = message.encode("utf-8")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode("latin-1") + body
        )
        await writer.drain()
