"""The floor of the HTTP stack mockidp runs on: uvicorn (httptools, uvloop, mockidp's one-write-per-response protocol)
over TLS, answering every request with a fixed body the size of an Avaya token response and doing nothing else. What it costs per request is what any
Python server on this stack pays before its own work starts.

    python benchmarks/floor_app.py PORT CERT_AND_KEY_PEM BODY_BYTES [ALG]

With ALG (RS256, ES256) it also makes one signature per request, inline, with mockidp's signer: the most a server
on this stack could do if signing were its only work.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from mockidp.server import CorkedHttpToolsProtocol


def make_app(size: int, alg: str | None = None) -> Any:
    from mockidp.keys import SigningKey

    key = SigningKey.generate(alg, "floor") if alg else None
    signing_input = b"x" * 900  # about the signing input of an Avaya access token
    body = b'{"access_token":"' + b"x" * max(size - 40, 0) + b'","token_type":"bearer"}'
    start = {"type": "http.response.start", "status": 200,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if key is not None:
            key.sign(signing_input)
        await send(start)
        await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    port, pem, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    uvicorn.run(make_app(size, sys.argv[4] if len(sys.argv) > 4 else None), host="127.0.0.1", port=port, ssl_certfile=pem, http=CorkedHttpToolsProtocol, log_level="error", access_log=False, lifespan="off")
