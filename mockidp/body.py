"""Reading a request body over ASGI, bounded: the one reader of the authorities' endpoints (app.py) and the
control plane (control/routes.py). A declared Content-Length past the bound is refused before a byte is read."""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import Receive

from mockidp.errors import BadRequestBody
from mockidp.request import MAX_BODY


async def read_body(receive: Receive, content_length: str = "") -> bytes:
    """The whole body; 413 (`BadRequestBody`) past MAX_BODY, declared or read; `ClientDisconnect` if the client leaves."""
    if content_length.isdigit() and int(content_length) > MAX_BODY:
        raise BadRequestBody("request body larger than 1 MiB", 413)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequestBody("request body larger than 1 MiB", 413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
