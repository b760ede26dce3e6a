#!/usr/bin/env python3
"""Make sure the PostgreSQL database named in DATABASE_URL exists.

Used by `make run` and `make test` before any Django command runs, so that a
missing database or an unreachable PostgreSQL/Redis server is reported as one
readable line instead of a Django traceback.

Configuration is read the same way the Django settings read it: the process
environment first, then `.env` in the repository root, then the defaults.

    scripts/ensure_database.py                 # create the database if missing
    scripts/ensure_database.py --check-redis   # ...and check that Redis answers PING

Exit status: 0 on success, 1 when a server is unreachable or refuses the
request, 2 when a URL cannot be parsed.

Only the standard library and psycopg 3 are used.
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import sys
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/lectern"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "postgis"}
# Query parameters django-environ consumes itself; everything else is handed
# to libpq as a connection option (sslmode, options, ...).
DJANGO_ONLY_QUERY_KEYS = {
    "conn_max_age",
    "conn_health_checks",
    "atomic_requests",
    "autocommit",
    "disable_server_side_cursors",
    "pool",
}
MAINTENANCE_DATABASES = ("postgres", "template1")
TIMEOUT_SECONDS = 5


class Failure(Exception):
    """A problem that is reported as a single line and a non-zero exit."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------
# Configuration


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a simple KEY=VALUE .env file (comments, `export`, quotes)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return values
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            # Unquoted values may carry a trailing " # comment".
            hash_at = value.find(" #")
            if hash_at != -1:
                value = value[:hash_at].rstrip()
        values[key] = value
    return values


def setting(name: str, default: str, dotenv: dict[str, str]) -> str:
    value = os.environ.get(name)
    if value:
        return value
    value = dotenv.get(name)
    if value:
        return value
    return default


def split_netloc(netloc: str) -> tuple[str, str, str, str]:
    """Return (user, password, host, port) from a URL netloc, all unquoted.

    Done by hand because urllib lowercases the host and does not undo the
    percent-encoding that django-environ uses for Unix socket directories
    (postgres://%2Fvar%2Frun%2Fpostgresql/lectern).
    """
    userinfo, _, hostport = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    if hostport.startswith("["):  # [IPv6]:port
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    else:
        host, port = hostport, ""
    return unquote(user), unquote(password), unquote(host), port


def parse_database_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise Failure(
            f"DATABASE_URL must be a PostgreSQL URL (postgres://...), got scheme {parts.scheme!r}",
            exit_code=2,
        )
    user, password, host, port = split_netloc(parts.netloc)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise Failure(
            "DATABASE_URL does not name a database (postgres://host:port/NAME)",
            exit_code=2,
        )
    if port and not port.isdigit():
        raise Failure(f"DATABASE_URL has an invalid port {port!r}", exit_code=2)
    options = {
        key: value
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in DJANGO_ONLY_QUERY_KEYS
    }
    return {
        "user": user,
        "password": password,
        "host": host,
        "port": port,
        "name": name,
        "options": options,
    }


def describe_postgres(cfg: dict) -> str:
    host = cfg["host"] or "the default socket"
    if cfg["host"].startswith("/"):
        return f"{host} (port {cfg['port'] or 5432})"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{cfg['port'] or 5432}"


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line
    return error.__class__.__name__


# --------------------------------------------------------------------------
# PostgreSQL


def postgres_reason(error: BaseException) -> tuple[bool, str]:
    """Return (server answered?, short reason) for a psycopg connection error.

    psycopg 3 reports every connection failure as OperationalError without a
    SQLSTATE, so the libpq text is inspected: "FATAL:" means a server answered
    (bad role, bad password, pg_hba rejection), anything else means no server
    (refused, timeout, unknown host).
    """
    text = str(error).strip()
    answered = "FATAL:" in text or getattr(error, "sqlstate", None) is not None
    line = first_line(error)
    # "connection failed: connection to server at "h", port p failed: REASON"
    reason = line.rsplit(" failed: ", 1)[-1].strip()
    if reason.startswith("FATAL:"):
        reason = reason[len("FATAL:") :].strip()
    return answered, reason or line


def ensure_database(url: str) -> str:
    try:
        import psycopg
        from psycopg import errors, sql
    except ImportError:
        raise Failure(
            "psycopg is not installed in this interpreter; run `make install` first"
        ) from None

    cfg = parse_database_url(url)
    where = describe_postgres(cfg)
    params: dict[str, object] = dict(cfg["options"])
    for key in ("user", "password", "host", "port"):
        if cfg[key]:
            params[key] = cfg[key]
    params.setdefault("connect_timeout", TIMEOUT_SECONDS)
    params["autocommit"] = True

    conn = None
    for maintenance_db in MAINTENANCE_DATABASES:
        try:
            conn = psycopg.connect(dbname=maintenance_db, **params)
            break
        except psycopg.Error as exc:
            answered, reason = postgres_reason(exc)
            if not answered:
                raise Failure(f"PostgreSQL is not reachable at {where}: {reason}") from None
            if f'database "{maintenance_db}" does not exist' in reason:
                continue
            raise Failure(f"PostgreSQL at {where} refused the connection: {reason}") from None
    if conn is None:
        raise Failure(f"PostgreSQL at {where} has neither a 'postgres' nor a 'template1' database")

    name = cfg["name"]
    try:
        with conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if row:
                return f"Database {name!r} already exists on {where}"
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except errors.DuplicateDatabase:
                return f"Database {name!r} already exists on {where}"
            return f"Created database {name!r} on {where}"
    except errors.InsufficientPrivilege as exc:
        raise Failure(
            f"Database {name!r} does not exist on {where} and user {cfg['user'] or '(default)'!r} "
            f"may not create it: {first_line(exc)}"
        ) from None
    except psycopg.Error as exc:
        raise Failure(f"Could not create database {name!r} on {where}: {first_line(exc)}") from None


# --------------------------------------------------------------------------
# Redis


def resp_command(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_resp_line(sock: socket.socket) -> str:
    buf = bytearray()
    while not buf.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("connection closed by server")
        buf += chunk
        if len(buf) > 65536:
            raise ConnectionError("reply too long")
    return buf[:-2].decode("utf-8", "replace")


def check_redis(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme not in {"redis", "rediss", "unix"}:
        raise Failure(
            f"REDIS_URL must start with redis://, rediss:// or unix://, got {scheme!r}",
            exit_code=2,
        )
    user, password, host, port = split_netloc(parts.netloc)
    query = dict(parse_qsl(parts.query))
    password = password or query.get("password", "")
    user = user or query.get("username", "")

    if scheme == "unix":
        path = unquote(parts.path)
        where = path
    else:
        host = host or "127.0.0.1"
        if port and not port.isdigit():
            raise Failure(f"REDIS_URL has an invalid port {port!r}", exit_code=2)
        port_number = int(port or 6379)
        where = f"[{host}]:{port_number}" if ":" in host else f"{host}:{port_number}"

    try:
        if scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(TIMEOUT_SECONDS)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((host, port_number), timeout=TIMEOUT_SECONDS)
            if scheme == "rediss":
                context = ssl.create_default_context()
                if query.get("ssl_cert_reqs", "").lower() in {"none", "optional"}:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(sock, server_hostname=host)
    except (OSError, ValueError) as exc:
        raise Failure(f"Redis is not reachable at {where}: {first_line(exc)}") from None

    try:
        with sock:
            if password:
                auth = ("AUTH", user, password) if user else ("AUTH", password)
                sock.sendall(resp_command(*auth))
                reply = read_resp_line(sock)
                if not reply.startswith("+"):
                    reason = reply.lstrip("-")
                    raise Failure(
                        f"Redis at {where} rejected the credentials in REDIS_URL: {reason}"
                    )
            sock.sendall(resp_command("PING"))
            reply = read_resp_line(sock)
    except Failure:
        raise
    except OSError as exc:
        raise Failure(f"Redis is not reachable at {where}: {first_line(exc)}") from None

    if reply != "+PONG":
        raise Failure(f"Redis at {where} did not answer PING with PONG: {reply.lstrip('-+')}")
    return f"Redis answers PING at {where}"


# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Create the PostgreSQL database from DATABASE_URL if it does not exist."
    )
    parser.add_argument(
        "--check-redis",
        action="store_true",
        help="also check that the Redis server at REDIS_URL answers PING",
    )
    args = parser.parse_args(argv)

    dotenv = read_dotenv(REPO_ROOT / ".env")
    database_url = setting("DATABASE_URL", DEFAULT_DATABASE_URL, dotenv)
    redis_url = setting("REDIS_URL", DEFAULT_REDIS_URL, dotenv)

    try:
        print(ensure_database(database_url), flush=True)
        if args.check_redis:
            print(check_redis(redis_url), flush=True)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr, flush=True)
        return failure.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
