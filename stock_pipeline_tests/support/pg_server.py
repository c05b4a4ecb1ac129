"""A throwaway PostgreSQL server on loopback for tests (Debian's ``postgresql`` package).

``postgres_server()`` initdb's a cluster in a temp folder, starts it on a free
127.0.0.1 port with a password-protected superuser, creates one database and
stops the server (and deletes the folder) on exit. Under root the cluster is
owned by, and run as, the ``postgres`` user (the server refuses to run as root).

``postgres_server_fixture()`` wraps it as a pytest fixture (session scope by
default) that skips, with the reason, when no PostgreSQL binaries can be found
or installed::

    pg = postgres_server_fixture()            # in a test module or conftest.py

    def test_something(pg):
        psycopg2.connect(pg.dsn)
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"  # the OS account that runs the server when we are root


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, and they could not be installed."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @property
    def dsn(self) -> str:
        """libpq keyword string, e.g. for ``psycopg2.connect``."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={self.dbname}"
        )

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"

    def dagster_env(self) -> dict[str, str]:
        """The variables ``dagster-postgres.yaml`` reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.dbname,
        }


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def find_pg_bin() -> Path | None:
    """Newest /usr/lib/postgresql/<ver>/bin holding initdb, pg_ctl and postgres."""
    candidates = sorted(glob.glob(PG_BIN_GLOB), key=_version_key, reverse=True)
    for folder in candidates:
        if all(os.access(Path(folder, exe), os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def ensure_pg_bin(install: bool = True) -> Path:
    """The server binaries, ``apt-get install``-ing ``postgresql`` (as root) when missing."""
    found = find_pg_bin()
    if found is not None:
        return found
    if not install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            f"no PostgreSQL server binaries under {PG_BIN_GLOB} and no way to install them "
            "(needs root and apt-get); install Debian's `postgresql` package"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "postgresql"],
    ):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise PostgresUnavailable(
                f"`{' '.join(cmd)}` failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
            )
    found = find_pg_bin()
    if found is None:
        raise PostgresUnavailable(f"installed `postgresql` but found nothing under {PG_BIN_GLOB}")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_account() -> pwd.struct_passwd | None:
    """The account to run the server as: ``postgres`` under root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise PostgresUnavailable(
            f"running as root and there is no {SERVER_USER!r} user to run the server as"
        ) from exc


def _run(cmd: list[str], account: pwd.struct_passwd | None, timeout: float = 120) -> str:
    if account is not None:
        cmd = ["runuser", "-u", account.pw_name, "--", *cmd]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "LC_ALL": "C"}
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def _chown_tree(path: Path, account: pwd.struct_passwd | None) -> None:
    if account is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.chown(name, account.pw_uid, account.pw_gid)


def _create_database(server: PostgresServer) -> None:
    import psycopg2

    conn = psycopg2.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname="postgres",
        connect_timeout=10,
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{server.dbname}"')
    finally:
        conn.close()


@contextlib.contextmanager
def postgres_server(
    dbname: str = "dagster", user: str = "dagster", install: bool = True
) -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server on 127.0.0.1; stop it and delete its files on exit."""
    bindir = ensure_pg_bin(install=install)
    account = _server_account()
    password = secrets.token_hex(16)
    base = Path(tempfile.mkdtemp(prefix="pg-test-"))
    data, sockets, log = base / "data", base / "sockets", base / "server.log"
    sockets.mkdir()
    (base / "pwfile").write_text(password + "\n")
    _chown_tree(base, account)
    started = False
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                user,
                f"--pwfile={base / 'pwfile'}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            account,
        )
        (base / "pwfile").unlink()
        server = None
        for _attempt in range(3):  # the free port can be taken before the server binds it
            port = _free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-p {port}",
                    f"-c unix_socket_directories={sockets}",
                    # a scratch cluster: durability buys nothing, speed does
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=200",
                ]
            )
            try:
                _run(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(log),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    account,
                )
            except RuntimeError:
                if _attempt == 2:
                    tail = log.read_text()[-2000:] if log.exists() else ""
                    raise RuntimeError(f"PostgreSQL did not start; server log:\n{tail}") from None
                continue
            started = True
            server = PostgresServer("127.0.0.1", port, user, password, dbname)
            break
        assert server is not None
        _create_database(server)
        yield server
    finally:
        if started:
            _stop(bindir, data, account)
        shutil.rmtree(base, ignore_errors=True)


def _stop(bindir: Path, data: Path, account: pwd.struct_passwd | None) -> None:
    try:
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], account, 60)
        return
    except (RuntimeError, subprocess.TimeoutExpired):
        pass
    # pg_ctl could not stop it: signal the postmaster named in its pid file.
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 9)


def postgres_server_fixture(scope: str = "session", dbname: str = "dagster"):
    """A pytest fixture yielding a ``PostgresServer``; skips when PostgreSQL is unavailable."""

    @pytest.fixture(scope=scope)
    def _fixture() -> Iterator[PostgresServer]:
        pytest.importorskip("psycopg2", reason="psycopg2 (the `postgres` extra) is not installed")
        try:
            with postgres_server(dbname=dbname) as server:
                yield server
        except PostgresUnavailable as exc:
            pytest.skip(f"PostgreSQL server unavailable: {exc}")

    return _fixture
