"""`mockidp serve | world check | token | keys generate`."""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import time
from pathlib import Path

from mockidp.engine import PACKAGE_KEYS, Engine, default_state_dir
from mockidp.world import WorldError, load_world


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {value!r}")
    return int(value)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {value!r}")
    return int(value)


def _tls_name(value: str) -> str:
    from mockidp.tls import parse_name

    try:
        return str(parse_name(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _env_tls_names() -> list[str]:
    """MOCKIDP_TLS_NAMES, comma-separated; checked by the same rule as --tls-name (ValueError names the variable)."""
    try:
        return [_tls_name(n) for n in (_env("MOCKIDP_TLS_NAMES") or "").split(",") if n.strip()]
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"MOCKIDP_TLS_NAMES: {exc}") from exc


def _help_value(value: str | None, otherwise: str) -> str:
    return (value or otherwise).replace("%", "%%")  # argparse %-formats help text


def cmd_serve(args: argparse.Namespace) -> int:
    from mockidp.control.guard import ControlSettings
    from mockidp.server import BindError, MockIdpServer
    from mockidp.tls import TlsStateError

    try:
        tls_names = args.tls_name if args.tls_name is not None else _env_tls_names()  # the flags replace the variable
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from mockidp import workers

    if args.workers > 1 and (args.store or "").strip() in workers.MEMORY:
        print(f"error: --workers {args.workers} needs a shared store: add --store redis://HOST:6379/0 (or MOCKIDP_STORE)", file=sys.stderr)
        return 2
    world = load_world(args.world)
    try:
        store = workers.open_store(args.store)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = Engine(world, state_dir=args.state_dir, store=store)
    try:
        control = ControlSettings.from_env(args.allowed_host, args.control_token)
    except ValueError as exc:
        print(f"error: --control-token: {exc}", file=sys.stderr)
        return 2
    server = MockIdpServer(engine, host=args.host, port=args.port, tls=not args.no_tls, state_dir=args.state_dir, log_level=args.log_level,
                           threads=args.threads, allowed_hosts=control.allowed_hosts, control_token=control.token,
                           tls_names=tls_names, reuse_port=args.workers > 1 or getattr(args, "worker", 0) > 0)
    try:
        server.start()
    except BindError as exc:  # one line a user can act on, not a traceback
        what = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
        print(f"error: port {exc.port} on {exc.host} {what}; choose another with --port (or MOCKIDP_PORT)", file=sys.stderr)
        return 2
    except TlsStateError as exc:  # e.g. a read-only state dir that holds no usable CA
        print(f"error: {exc.strerror}; choose another --state-dir (or MOCKIDP_STATE_DIR)", file=sys.stderr)
        return 2
    from mockidp import logs

    # After start: what starting says (a replaced CA) is printed below once; from here on mockidp logs in this format.
    logs.configure(args.log_level, args.log_format)
    logs.restyle_uvicorn(args.log_format)
    if getattr(args, "worker", 0):  # a worker process of --workers: the first process printed everything else
        print(f"mockidp worker {args.worker} serving on {server.url}", flush=True)
        args.ready.set()
        server.serve_forever()
        return 0
    procs = []
    if args.workers > 1:
        try:
            procs = workers.spawn(args, server.port, args.workers - 1, cmd_serve)
        except RuntimeError as exc:
            server.stop()
            print(f"error: {exc}", file=sys.stderr)
            return 1
    started = time.monotonic()
    print(f"mockidp serving {world.source} on {server.url}" + (f" ({args.workers} worker processes, store {args.store})" if procs
                                                                 else f" (store {args.store})" if engine.shared else ""))
    if server.tls_files and server.tls_files.replaced:
        print(server.tls_files.replaced)
    if server.ca_bundle:
        print(f"CA bundle (trust this): {server.ca_bundle}")
    print(f"health: {server.url}/healthz   world: {server.url}/_mockidp/world")
    if control.token:  # the one link that lets a browser in: it turns the token into a SameSite=Strict cookie
        print(f"dashboard: {server.url}/_mockidp/?token={control.token}   (control API: Authorization: Bearer <token>)")
    else:
        print(f"dashboard: {server.url}/_mockidp/")
    for authority in engine.authorities.values():
        print(f"\n{authority.title}: {server.url}{authority.prefix}")
        for issuer in authority.issuers():
            if issuer.discovery_path:
                print(f"  discovery: {server.url}{authority.prefix}{issuer.discovery_path}")
            print(f"  jwks:      {server.url}{authority.prefix}{issuer.jwks_path}")
        for line in authority.demo_lines():
            print(f"  {line}")
    print("\nmockidp is ready (Ctrl-C stops it)")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, _interrupt)  # `docker stop`, `kill`: stop as Ctrl-C does (the workers too), and say so
    try:
        server.serve_forever()
    finally:
        workers.stop(procs)
    print(f"mockidp stopped after {time.monotonic() - started:.1f} s on {server.url}", flush=True)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_world_check(args: argparse.Namespace) -> int:
    try:
        world = load_world(args.file)
    except WorldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    engine = Engine(world, state_dir=args.state_dir)
    defined = _sections(args.file)
    shown = [a for a in engine.authorities.values() if a.name in defined]  # a partial world: only what it defines
    counts = ", ".join(f"{a.name}: {len(a.issuers())} issuer(s)" for a in shown) or "no authority section"
    print(f"{args.file}: ok ({counts})")
    return 0


def _sections(name: str) -> set[str]:
    """The top-level tables a world file itself defines (every other section is empty)."""
    import tomllib

    from mockidp.world import resolve_world

    return set(tomllib.loads(resolve_world(name).read_text(encoding="utf-8")))


def cmd_world_schema(args: argparse.Namespace) -> int:
    from mockidp.world_schema import world_schema

    print(json.dumps(world_schema(), indent=2))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    engine = Engine(load_world(args.world), state_dir=args.state_dir, base_url=args.base_url)
    claims: dict[str, object] = {}
    for item in args.claim:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"error: --claim wants NAME=VALUE, got {item!r}", file=sys.stderr)
            return 2
        try:
            claims[key] = json.loads(value)
        except json.JSONDecodeError:
            claims[key] = value
    try:
        authority = engine.authority(args.authority)
        if args.variant == "valid":
            print(authority.mint(claims, issuer_id=args.issuer, lifetime=args.lifetime))
        else:  # the control API's forgeries (control/forgery.py), for a resource server's negative tests
            from mockidp.control.surface import Control

            print(Control(engine).forge(args.authority, claims, args.issuer, args.variant))
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except ValueError as exc:  # ControlError: an issuer the authority lacks
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _variant(value: str) -> str:
    from mockidp.control.forgery import FORGERIES

    name = value.replace("-", "_")
    if name not in FORGERIES:
        raise argparse.ArgumentTypeError(f"choose one of {', '.join(FORGERIES)} (or with '-' for '_'), got {value!r}")
    return name


def _in_checkout() -> bool:
    """True when the package runs from a source tree (pyproject.toml beside it: `pip install -e`, `python -m`)."""
    return (PACKAGE_KEYS.parent.parent.parent / "pyproject.toml").is_file()


def cmd_keys_generate(args: argparse.Namespace) -> int:
    """Write every issuer's signing key of the world into DIR (committed development keys), plus demo client certs."""
    from mockidp.keys import generate_private_key, self_signed_certificate, write_key_files

    if args.dir is None and not _in_checkout():
        # An installed package's keys are package data: rewriting them in site-packages would change every user's.
        print("error: --dir DIR is required outside a mockidp checkout (the installed package's keys are read-only)", file=sys.stderr)
        return 2
    out = Path(args.dir) if args.dir is not None else PACKAGE_KEYS
    for stem, cn in (("avaya-demo-jwt-client", "demo-jwt-client"), ("entra-demo-cert-app", "33333333-3333-3333-3333-333333333333")):
        if not (out / f"{stem}.crt.pem").exists() or args.force:
            key = generate_private_key("RS256")
            write_key_files(out, stem, key, self_signed_certificate(key, cn))
            print(f"client credential: {out / stem}.key.pem / .crt.pem")
    engine = Engine(load_world(args.world), key_dirs=[out])
    engine.keys.cache_dir = out  # generated keys land in DIR itself (key sets load lazily, on first use below)
    for authority in engine.authorities.values():
        for issuer in authority.issuers():
            print(f"{authority.name}: {issuer.keyset.name} kid={issuer.keyset.active.kid}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mockidp", description="Stand-in identity providers for testing API clients.")
    p.add_argument("--state-dir", type=Path, default=Path(_env("MOCKIDP_STATE_DIR") or default_state_dir()), help="where the local CA and generated keys are kept (default: %(default)s)")
    sub = p.add_subparsers(dest="command", required=True)

    # Every serve flag's help ends with its default and the variable that sets it (`mockidp serve --help`).
    s = sub.add_parser("serve", help="serve every authority of a world over HTTPS",
                       epilog="The state dir (CA, generated keys) is the global option before `serve`: "
                              f"mockidp --state-dir DIR serve (default: {default_state_dir()}; env MOCKIDP_STATE_DIR).")
    s.add_argument("--world", default=_env("MOCKIDP_WORLD"), help=f"world file (TOML), or a built-in world's name (default, avaya, fivedegrees, lumen, opengateway) (default: {_help_value(_env('MOCKIDP_WORLD'), 'the built-in default world')}; env MOCKIDP_WORLD)")
    s.add_argument("--host", default=_env("MOCKIDP_HOST", "127.0.0.1"), help="address to listen on (default: %(default)s; env MOCKIDP_HOST)")
    # String defaults from the environment: argparse converts them only when `serve` runs, and a bad value is then
    # a usage error naming the flag, not a traceback of every subcommand.
    s.add_argument("--port", type=_port, default=_env("MOCKIDP_PORT") or "8443", help="port to listen on, 0 for any free one (default: %(default)s; env MOCKIDP_PORT)")
    s.add_argument("--no-tls", action="store_true", default=_env("MOCKIDP_NO_TLS", "") in ("1", "true"), help="serve plain HTTP (default: %(default)s; env MOCKIDP_NO_TLS=1)")
    s.add_argument("--log-level", default=_env("MOCKIDP_LOG_LEVEL", "info"), choices=["critical", "error", "warning", "info", "debug"],
                   help="log level: info logs one line per request (default: %(default)s; env MOCKIDP_LOG_LEVEL)")
    s.add_argument("--log-format", default=_env("MOCKIDP_LOG_FORMAT", "text"), choices=["text", "json"],
                   help="log lines as text, or one JSON object per line (default: %(default)s; env MOCKIDP_LOG_FORMAT)")
    s.add_argument("--threads", type=_positive, default=_env("MOCKIDP_THREADS") or "1", metavar="N",
                   help="event loops serving in parallel, one thread each (2 on 2 cores for load tests, "
                        "~1.5x the RS256 tokens/s, not for ES256; control calls then run beside requests in flight) "
                        "(default: %(default)s; env MOCKIDP_THREADS)")
    s.add_argument("--tls-name", action="append", type=_tls_name, metavar="NAME",
                   help="one more hostname or IP address for the server certificate and the CA's name constraints, "
                        "e.g. a compose service name; repeatable (default: "
                        f"{_help_value(_env('MOCKIDP_TLS_NAMES'), 'none')}; env MOCKIDP_TLS_NAMES, comma-separated)")
    s.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a further Host name the control plane (/_mockidp/) answers, e.g. a compose service name "
                        "and loopback names always; repeatable (default: none; env MOCKIDP_ALLOWED_HOSTS, comma-separated)")
    s.add_argument("--control-token", default=None, metavar="TOKEN",
                   help="require Authorization: Bearer TOKEN on the control plane (default: none; env MOCKIDP_CONTROL_TOKEN); "
                        "the dashboard link printed at start carries it")
    s.add_argument("--store", default=_env("MOCKIDP_STORE"), metavar="URL",
                   help="where state lives: memory (one process) or redis://HOST:6379/0?prefix=NAME, shared by every "
                        "worker and replica on it, so they act as one mockidp (docs/scaling.md; pip install 'mockidp[redis]') "
                        f"(default: {_help_value(_env('MOCKIDP_STORE'), 'memory')}; env MOCKIDP_STORE)")
    s.add_argument("--workers", type=_positive, default=_env("MOCKIDP_WORKERS") or "1", metavar="N",
                   help="worker processes serving the port (SO_REUSEPORT), each with its own GIL; needs --store redis://... "
                        "(default: %(default)s; env MOCKIDP_WORKERS)")
    s.set_defaults(func=cmd_serve)

    w = sub.add_parser("world", help="world files").add_subparsers(dest="world_command", required=True)
    c = w.add_parser("check", help="validate a world file")
    c.add_argument("file", help="world file (TOML), or a built-in world's name")
    c.set_defaults(func=cmd_world_check)
    ws = w.add_parser("schema", help="print the JSON Schema of world files (for editors; docs/world.schema.json)")
    ws.set_defaults(func=cmd_world_schema)

    t = sub.add_parser("token", help="mint a token from an authority (for curl users)")
    t.add_argument("--authority", required=True)
    t.add_argument("--issuer", help="issuer id (realm, tenant...); default: the authority's first")
    t.add_argument("--claim", action="append", default=[], metavar="NAME=VALUE", help="a claim; VALUE is JSON if it parses")
    t.add_argument("--lifetime", type=int, default=3600)
    t.add_argument("--base-url", default="https://127.0.0.1:8443", help="scheme://host:port the issuer is under")
    t.add_argument("--world", default=_env("MOCKIDP_WORLD"))
    t.add_argument("--variant", type=_variant, default="valid",
                   help="a deliberately bad token: expired, not_yet_valid, wrong_audience, wrong_issuer, unknown_key, "
                        "other_authority_key, alg_none, hs256_public_key, truncated (as the control API's "
                        "POST /_mockidp/tokens; '-' for '_' is fine; --lifetime applies to valid only) (default: valid)")
    t.set_defaults(func=cmd_token)

    k = sub.add_parser("keys", help="signing keys").add_subparsers(dest="keys_command", required=True)
    g = k.add_parser("generate", help="write the world's development keys (what mockidp/data/keys holds)")
    g.add_argument("--dir", default=None, help="where to write them (default in a checkout: mockidp/data/keys; required elsewhere)")
    g.add_argument("--world", default=None)
    g.add_argument("--force", action="store_true")
    g.set_defaults(func=cmd_keys_generate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except WorldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
