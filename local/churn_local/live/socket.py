"""The agents' WebSocket API on one machine: a WebSocket server whose $connect, $disconnect and
``current`` routes run the template's handlers (churn's ``live_score.agents``; a message is routed
by its ``action``, the API's route selection expression; one with no route is answered as API
Gateway answers it, ``Forbidden``), and API Gateway's ``@connections``
management API over HTTP, so the push function's real ``post_to_connection`` reaches the agent
(410 GoneException for a closed connection, as API Gateway answers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

ConnectHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class AgentSocket:
    def __init__(
        self,
        on_connect: ConnectHandler,
        on_disconnect: ConnectHandler,
        host: str = "127.0.0.1",
        routes: dict[str, ConnectHandler] | None = None,
    ) -> None:
        self.on_connect, self.on_disconnect, self.host = on_connect, on_disconnect, host
        self.routes = dict(routes or {})
        self.connections: dict[str, ServerConnection] = {}
        self.url = ""
        self.management_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._http: ThreadingHTTPServer | None = None

    # --- WebSocket side ------------------------------------------------------------------------
    async def _session(self, websocket: ServerConnection) -> None:
        connection_id = uuid.uuid4().hex[:16]
        query = {k: v[0] for k, v in parse_qs(urlparse(websocket.request.path).query).items()}
        event = {
            "requestContext": {
                "routeKey": "$connect",
                "eventType": "CONNECT",
                "connectionId": connection_id,
                "identity": {"userArn": "arn:aws:sts::123456789012:assumed-role/agents/local"},
            },
            "queryStringParameters": query or None,
        }
        reply = await asyncio.to_thread(self.on_connect, event, None)
        if reply.get("statusCode") != 200:
            await websocket.close(
                code=1008, reason=json.loads(reply.get("body", "{}")).get("message", "refused")[:120]
            )
            return
        self.connections[connection_id] = websocket
        try:
            with contextlib.suppress(ConnectionClosed):  # a dropped socket ends it like a close
                async for raw in websocket:
                    await self._route(connection_id, websocket, raw)
        finally:
            self.connections.pop(connection_id, None)
            disconnect = {"requestContext": {"routeKey": "$disconnect", "connectionId": connection_id}}
            await asyncio.to_thread(self.on_disconnect, disconnect, None)

    async def _route(self, connection_id: str, websocket: ServerConnection, raw: str | bytes) -> None:
        try:
            action = json.loads(raw).get("action")
        except (ValueError, AttributeError):
            action = None
        handler = self.routes.get(action) if isinstance(action, str) else None
        if handler is None:
            await websocket.send(json.dumps({"message": "Forbidden", "connectionId": connection_id}))
            return
        event = {
            "requestContext": {"routeKey": action, "eventType": "MESSAGE", "connectionId": connection_id},
            "body": raw if isinstance(raw, str) else raw.decode(errors="replace"),
            "isBase64Encoded": False,
        }
        # A handler posts back through @connections, which sends on this loop: run it off the loop.
        await asyncio.to_thread(handler, event, None)

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        async with serve(self._session, self.host, 0) as server:
            port = server.sockets[0].getsockname()[1]
            self.url = f"ws://{self.host}:{port}"
            self._ready.set()
            await self._stopping.wait()

    def _post(self, connection_id: str, data: bytes) -> int:
        websocket = self.connections.get(connection_id)
        if websocket is None or self._loop is None:
            return 410
        future = asyncio.run_coroutine_threadsafe(websocket.send(data.decode()), self._loop)
        try:
            future.result(timeout=5)
        except Exception:
            return 410
        return 200

    # --- @connections management API ------------------------------------------------------
    def _management(self) -> ThreadingHTTPServer:
        socket = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                path = urlparse(self.path).path
                # /{api}/{stage}/@connections/{id}: the deployed URL's API id and stage kept in the path
                if "/@connections/" not in path:
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = socket._post(path.rsplit("/", 1)[1], body)
                payload = b"{}" if status == 200 else b'{"message": "Gone"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 410:
                    self.send_header("x-amzn-ErrorType", "GoneException")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return

        return ThreadingHTTPServer((self.host, 0), Handler)

    def start(self) -> AgentSocket:
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True).start()
        self._ready.wait(10)
        self._http = self._management()
        self.management_url = f"http://{self.host}:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
