"""The scanner's only way out: a SOCKS5 proxy that connects to public addresses only.

A site under scan decides what its pages make Chromium fetch: a redirect, an
image or a script can point at ``127.0.0.1``, the cloud metadata address or
anything on the worker's network. Checking URLs before they are loaded misses
redirects and DNS answers that change between the check and the connection,
so Chromium is made to send every connection here instead
(``--proxy-server=socks5://…`` with loopback not bypassed): this proxy
resolves the name itself, refuses any address that is not public (unless the
operator allows its network, ``CMP_SCANNER_PRIVATE_NETWORKS``), and connects
to exactly the address it checked. Each connection may carry at most
``max_bytes`` from the site, so a huge page cannot fill the worker's memory.
"""
from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import socket
import struct
import threading

SOCKS_VERSION = 5
CONNECT = 1
IPV4, DOMAIN, IPV6 = 1, 3, 4
SUCCEEDED, REFUSED_BY_RULES, HOST_UNREACHABLE, COMMAND_UNSUPPORTED = 0, 2, 4, 7
CHUNK = 64 * 1024


class Guard:
    """Runs the proxy on 127.0.0.1 in a thread of its own; ``refused`` lists what it would not reach."""

    def __init__(self, private_networks=(), hosts=None, max_bytes=16 * 1024 * 1024, connect_timeout=10.0):
        self.private_networks = tuple(private_networks)
        self.hosts = dict(hosts or {})
        self.max_bytes = max_bytes
        self.connect_timeout = connect_timeout
        self.refused: list[tuple[str, str]] = []
        self.port = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="scanner-guard", daemon=True)

    def start(self) -> Guard:
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop).result(10)
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close():
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return ip.is_global or any(ip in network for network in self.private_networks)

    def address_for(self, host: str, port: int) -> str | None:
        """For a connection of the scanner's own (the sitemap): the address to connect to, or None if refused."""
        try:
            address = asyncio.run_coroutine_threadsafe(self.resolve(host, port), self._loop).result(self.connect_timeout + 1)
        except (OSError, TimeoutError):
            return None
        if not self.allowed(address):
            self.refused.append((host, address))
            return None
        return address

    async def resolve(self, host: str, port: int) -> str:
        host = host.lower().rstrip(".")
        for name, address in self.hosts.items():
            if host == name or fnmatch.fnmatchcase(host, name):
                return address
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), self.connect_timeout)
        return infos[0][4][0]

    async def _serve(self, reader, writer):
        try:
            await self._handle(reader, writer)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader, writer):
        version, count = await reader.readexactly(2)
        await reader.readexactly(count)  # offered methods: only "no authentication" is spoken
        if version != SOCKS_VERSION:
            return
        writer.write(bytes([SOCKS_VERSION, 0]))
        version, command, _, kind = await reader.readexactly(4)
        if kind == IPV4:
            host = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
        elif kind == IPV6:
            host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
        else:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode("idna")
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != CONNECT:
            return await self._reply(writer, COMMAND_UNSUPPORTED)
        try:
            address = await self.resolve(host, port)
        except (TimeoutError, OSError):
            return await self._reply(writer, HOST_UNREACHABLE)
        if not self.allowed(address):
            self.refused.append((host, address))
            return await self._reply(writer, REFUSED_BY_RULES)
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(address, port), self.connect_timeout)
        except (TimeoutError, OSError):
            return await self._reply(writer, HOST_UNREACHABLE)
        await self._reply(writer, SUCCEEDED)
        try:
            await asyncio.gather(self._pipe(reader, upstream_writer, None), self._pipe(upstream_reader, writer, self.max_bytes))
        finally:
            upstream_writer.close()

    @staticmethod
    async def _reply(writer, status):
        writer.write(bytes([SOCKS_VERSION, status, 0, IPV4, 0, 0, 0, 0, 0, 0]))
        await writer.drain()

    @staticmethod
    async def _pipe(reader, writer, limit):
        carried = 0
        try:
            while data := await reader.read(CHUNK):
                carried += len(data)
                if limit is not None and carried > limit:
                    break  # the rest of a huge answer is dropped: the page gets a cut connection
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
