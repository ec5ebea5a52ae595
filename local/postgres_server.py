"""A throw-away PostgreSQL server: temp data dir and socket, random port, real auth.

By default it plays RDS for PostgreSQL (`rds_like=True`), because the workflow must work with
the master user RDS hands out, not with a superuser:

- the real superuser is a hidden admin, `rdsadmin` as on RDS, reachable only through the unix
  socket in the temp dir (`connect_admin()`, for the emulator and test fixtures);
- the master user is NOSUPERUSER CREATEROLE CREATEDB LOGIN and a member of `rds_superuser`,
  which holds `rds_replication` WITH ADMIN OPTION and the predefined roles pg_monitor and
  pg_signal_backend (see `RDS_BOOTSTRAP`);
- membership of `rds_replication` lets a login create, peek and stream logical slots:
  `sync_rds_replication()` makes it so on vanilla PostgreSQL.

`rds_like=False` is self-managed PostgreSQL: the master is a plain superuser and no rds_* roles
exist, so the workflow takes the REPLICATION-attribute path."""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations: the methods import pg8000 where they connect
    import pg8000.native

MASTER_USER = "master"
ADMIN_USER = "rdsadmin"  # RDS's own superuser: customers never get it

# What RDS sets up before handing an instance over (AWS RDS user guide, "Understanding the
# rds_superuser role"): the master "can grant and revoke rds_replication", "see all connections
# in pg_stat_activity" and "stop any connection with pg_terminate_backend / pg_cancel_backend".
# ADMIN OPTION on rds_replication is what lets a non-superuser GRANT it on PG16+ (CREATEROLE alone
# no longer does); PostgreSQL counts admin option held through a membership (is_admin_of_role).
RDS_BOOTSTRAP = (
    "CREATE ROLE rds_superuser NOLOGIN",
    "CREATE ROLE rds_replication NOLOGIN",
    "GRANT pg_monitor, pg_signal_backend TO rds_superuser",
    "GRANT rds_replication TO rds_superuser WITH ADMIN OPTION",
)


# A server's folder is ~40 MB; copying the template there is most of a new server's cost, ~4x faster in
# memory (/dev/shm) than on a disk-backed /tmp. Only with room to spare: containers often give /dev/shm 64 MB.
SCRATCH_MIN_FREE_BYTES = 4 * 1024**3


def scratch_dir(memory: str = "/dev/shm") -> str | None:  # noqa: S108 - mkdtemp makes a private folder there
    """Where servers' folders go: RDS_CDC_PG_SCRATCH, else `memory` when it has SCRATCH_MIN_FREE_BYTES
    free, else None (the default temp folder)."""
    if os.environ.get("RDS_CDC_PG_SCRATCH"):
        return os.environ["RDS_CDC_PG_SCRATCH"]
    try:
        free = os.statvfs(memory)
    except OSError:
        return None
    roomy = free.f_bavail * free.f_frsize >= SCRATCH_MIN_FREE_BYTES
    return memory if roomy and os.access(memory, os.W_OK) else None


def find_bin_dir() -> Path:
    """The newest installed server binaries; PG_BIN_DIR overrides (e.g. another major), and
    PG_MAJOR=<10..17> selects a build from npm, installed into a cache folder on first use."""
    override = os.environ.get("PG_BIN_DIR")
    if not override and os.environ.get("PG_MAJOR"):
        from local.postgres_versions import ensure_major

        return ensure_major(int(os.environ["PG_MAJOR"]))
    candidates = (
        [Path(override)]
        if override
        else sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    )
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise FileNotFoundError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; "
        "run `make postgres` (apt-get install postgresql) or set PG_BIN_DIR"
    )


def for_major(statements: list[str], major: int) -> list[str]:
    """A sample script for `major`: PG10 has no primary key on a partitioned table, so each
    partition gets its own instead (for the tests' and the demo's sample schemas)."""
    if major >= 11:
        return statements
    keys: dict[str, str] = {}
    adapted = []
    for statement in statements:
        parent = re.search(r"CREATE TABLE (\S+) \(.*, (PRIMARY KEY \([^)]*\))\)\s+PARTITION BY", statement, re.S)
        child = re.search(r"CREATE TABLE (\S+) PARTITION OF (\S+)", statement)
        if parent:
            keys[parent[1]] = parent[2]
            statement = statement.replace(f", {parent[2]}", "")
        adapted.append(statement)
        if child and child[2] in keys:
            adapted.append(f"ALTER TABLE {child[1]} ADD {keys[child[2]]}")
    return adapted


def server_version(bin_dir: Path) -> str:
    """`postgres --version` of these binaries: `10.23`, `15.14`."""
    out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[-1]


# initdb output per (binaries, rds_like), copied for each new server; removed at exit.
_TEMPLATES: dict[tuple[Path, bool], Path] = {}


def _write_rds_hba(hba: Path) -> None:
    """The admin only through the socket (trust); everyone else over TCP with a password."""
    hba.write_text(
        f"local all {ADMIN_USER} trust\n"
        f"local replication {ADMIN_USER} trust\n"
        "local all all reject\n"
        "local replication all reject\n"
        f"host all {ADMIN_USER} all reject\n"
        f"host replication {ADMIN_USER} all reject\n"
        "host all all all scram-sha-256\n"
        "host replication all all scram-sha-256\n"
    )


_REAPER: subprocess.Popen | None = None


def _tell_reaper(*fields: str) -> None:
    """Registers with this process's reaper (local/reaper.py), started on first use: it stops the
    servers and removes the folders of this process if it dies without doing so itself."""
    global _REAPER
    if _REAPER is None or _REAPER.poll() is not None:
        _REAPER = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("reaper.py"))],
            stdin=subprocess.PIPE,
            text=True,
            start_new_session=True,  # spared by signals sent to this process's group
        )
    assert _REAPER.stdin is not None
    _REAPER.stdin.write("\t".join(fields) + "\n")
    _REAPER.stdin.flush()


# Running servers by TCP port, so a connection hook can find the server behind an endpoint.
_RUNNING: dict[int, LocalPostgres] = {}


def before_connect(host: str, port: int, user: str) -> None:
    """What RDS does implicitly before `user` connects to one of our servers (see
    LocalPostgres.sync_rds_replication); nothing for other endpoints."""
    server = _RUNNING.get(port)
    if server is not None and server.host == host:
        server.sync_rds_replication(connecting_as=user)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalPostgres:
    """One server. `settings` live in an included conf file: `apply()` rewrites it and
    reloads, so dynamic settings change at once and static ones (wal_level) only at the
    next `restart()`, as on RDS."""

    settings: dict[str, str] = field(default_factory=lambda: {"wal_level": "replica"})
    bin_dir: Path = field(default_factory=find_bin_dir)
    host: str = "127.0.0.1"
    port: int = field(default_factory=_free_port)
    master_user: str = MASTER_USER
    # Throw-away credential for a server that lives as long as the test run.
    master_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rds-cdc-pg-", dir=scratch_dir())))
    # False: self-managed PostgreSQL, the master is the superuser and there are no rds_* roles.
    rds_like: bool = True
    # Roles sync_rds_replication gave REPLICATION to (and may take it back from).
    _replication_given: set[str] = field(default_factory=set, repr=False)
    # Self-managed: the master (the superuser) still has the template's password until first start.
    _password_pending: bool = field(default=False, repr=False)
    _admin_session: pg8000.native.Connection | None = field(default=None, repr=False)

    @property
    def admin_user(self) -> str:
        """The superuser: the hidden `rdsadmin` when RDS-like, else the master itself."""
        return ADMIN_USER if self.rds_like else self.master_user

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def settings_file(self) -> Path:
        return self.data_dir / "emulated_parameters.conf"

    @property
    def major_version(self) -> int:
        return int((self.data_dir / "PG_VERSION").read_text().strip().split(".")[0])

    @property
    def version(self) -> str:
        """The server's version as RDS writes an EngineVersion: `10.23`, `17.10`."""
        return server_version(self.bin_dir)

    def client_tool(self, name: str) -> Path:
        """A client program (pg_recvlogical): the npm builds ship only the server, so fall back to
        the newest apt-installed client, which speaks the protocol of every major from 10 on."""
        for candidate in (
            self.bin_dir / name,
            *sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: -int(p.parents[1].name)),
        ):
            if candidate.exists():
                return candidate
        raise FileNotFoundError(f"{name} not found in {self.bin_dir} or /usr/lib/postgresql/*/bin: run `make postgres`")

    def _run(self, *args: str) -> None:
        user = "postgres" if os.geteuid() == 0 else None
        result = subprocess.run(args, user=user, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def init(self) -> LocalPostgres:
        """A new data dir: a copy of this process's initdb output for the same binaries and mode
        (initdb is most of a server's start-up cost and every test wants a fresh server)."""
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        template = _TEMPLATES.get((self.bin_dir, self.rds_like))
        if template is None:
            template = self._make_template()
            _TEMPLATES[(self.bin_dir, self.rds_like)] = template
        # cp -a keeps the postgres user's ownership and the 0700 mode PostgreSQL insists on.
        subprocess.run(["cp", "-a", str(template), str(self.data_dir)], check=True)
        self._password_pending = not self.rds_like  # the template's superuser password is not ours
        self._write_settings()
        return self

    def _make_template(self) -> Path:
        root = Path(tempfile.mkdtemp(prefix="rds-cdc-pg-template-", dir=scratch_dir()))
        atexit.register(shutil.rmtree, root, True)
        _tell_reaper("files", str(root))
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            entry = pwd.getpwnam("postgres")
            os.chown(root, entry.pw_uid, entry.pw_gid)
        data_dir = root / "data"
        pwfile = root / "pwfile"
        # initdb needs a password for the bootstrap superuser to set up scram-sha-256 (and, on
        # PG10-13, password_encryption); none is used: the RDS-like admin comes in through the
        # unix socket only, and a self-managed master gets its own password at first start.
        pwfile.write_text(secrets.token_urlsafe(18))
        if os.geteuid() == 0:
            os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
        pwfile.chmod(0o600)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            self.admin_user,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        with (data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'emulated_parameters.conf'\n")
        if self.rds_like:
            _write_rds_hba(data_dir / "pg_hba.conf")
        return data_dir

    def _bootstrap_rds(self) -> None:
        """Once, on a new data dir: the rds_* roles and the master user as RDS creates them."""
        from pg8000.native import identifier, literal

        conn = self.connect_admin()
        try:
            if conn.run("SELECT 1 FROM pg_roles WHERE rolname = :m", m=self.master_user):
                return
            for statement in RDS_BOOTSTRAP:
                conn.run(statement)
            master = identifier(self.master_user)
            conn.run("SET log_statement = 'none'")  # the password stays out of the server log
            conn.run(
                f"CREATE ROLE {master} LOGIN NOSUPERUSER CREATEROLE CREATEDB PASSWORD {literal(self.master_password)}"
            )
            # The guide: the master can grant rds_superuser to others, which PG16+ allows only with ADMIN OPTION.
            conn.run(f"GRANT rds_superuser TO {master} WITH ADMIN OPTION")
        finally:
            conn.close()
        if self.major_version < 15:
            # PG10-14 on RDS: `public` belongs to the master in template1 (so in every new database),
            # which is why a master can ALTER SCHEMA public OWNER TO (asheiduk.de, "Setup a new
            # PostgreSQL database on AWS-RDS"). PG15+: pg_database_owner, the database's owner.
            for database in ("template1", "postgres"):
                conn = self.connect_admin(database)
                try:
                    conn.run(f"ALTER SCHEMA public OWNER TO {identifier(self.master_user)}")
                finally:
                    conn.close()
        self.sync_rds_replication()

    def _write_settings(self) -> None:
        lines = [f"{name} = '{value}'" for name, value in self.settings.items()]
        self.settings_file.write_text("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            os.chown(self.settings_file, pwd.getpwnam("postgres").pw_uid, -1)

    def apply(self, **settings: str) -> None:
        """Change settings and reload: what modifying a dynamic parameter does."""
        self.settings.update(settings)
        self._write_settings()
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "reload")

    def start(self) -> LocalPostgres:
        options = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "max_replication_slots": "10",
            "max_wal_senders": "10",
            "log_statement": "ddl",
            "fsync": "off",
        }
        opts = " ".join(f"-c {name}={value}" for name, value in options.items())
        _tell_reaper("server", str(self.root), str(self.bin_dir))
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        )
        _RUNNING[self.port] = self
        if self.rds_like:
            self._bootstrap_rds()
        elif self._password_pending:
            self._set_master_password()
        return self

    def _set_master_password(self) -> None:
        from pg8000.native import identifier, literal

        conn = self.connect_admin()
        try:
            conn.run("SET log_statement = 'none'")  # the password stays out of the server log
            conn.run(f"ALTER ROLE {identifier(self.master_user)} PASSWORD {literal(self.master_password)}")
        finally:
            conn.close()
        self._password_pending = False

    def stop(self) -> None:
        _RUNNING.pop(self.port, None)
        self._close_sync_connection()
        if (self.data_dir / "postmaster.pid").exists():
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def restart(self, **settings: str) -> None:
        """Stop, merge settings, start: what a reboot with a new parameter group does."""
        self.stop()
        self.settings.update(settings)
        self._write_settings()
        self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        _tell_reaper("gone", str(self.root))

    @property
    def socket_dir(self) -> Path:
        return self.root

    def connect_admin(self, database: str = "postgres") -> pg8000.native.Connection:
        """The superuser through the unix socket: for the emulator and test fixtures only, as
        RDS keeps `rdsadmin` to itself. (Self-managed mode: the master, which is the superuser.)"""
        import pg8000.native

        return pg8000.native.Connection(
            user=self.admin_user,
            unix_sock=str(self.socket_dir / f".s.PGSQL.{self.port}"),
            database=database,
            ssl_context=False,
        )

    def sync_rds_replication(self, connecting_as: str | None = None) -> None:
        """Emulates RDS: membership of `rds_replication` lets a login use logical replication.

        RDS patches PostgreSQL so that its members may create, peek and stream logical slots;
        vanilla PostgreSQL checks the REPLICATION attribute instead. So the login about to connect
        (`connecting_as`; None: every login) gets REPLICATION when it inherits `rds_replication`
        (directly or through other roles), and so does every member of `rds_superuser` (the master
        may always use slots); the other roles this sync gave it to lose it: on RDS they never hold
        the attribute, so the master may still ALTER them (PostgreSQL lets only a superuser alter a
        role that has it). A running walsender keeps streaming. The admin's ALTERs stay out of the
        server log, as RDS's own doings do. Run before the connections that RDS would let replicate:
        LocalPostgres.connect, the local runner's connections to the emulated instance, and before
        starting pg_recvlogical as the CDC user."""
        if not self.rds_like:
            return
        from pg8000.native import identifier

        logins = """SELECT rolname::text, rolreplication, pg_has_role(oid, 'rds_replication', 'USAGE'),
                           pg_has_role(oid, 'rds_superuser', 'USAGE')
                    FROM pg_roles WHERE rolcanlogin AND NOT rolsuper"""
        conn = self._sync_connection()
        try:
            try:
                rows = conn.run(logins)
            except Exception:  # the kept session was ended (a restart, a test ending every session): anew, once
                self._close_sync_connection()
                conn = self._sync_connection()
                rows = conn.run(logins)
            for role, has_attribute, is_member, is_rds_superuser in rows:
                wanted = is_member and (is_rds_superuser or connecting_as in (None, role))
                if wanted and not has_attribute:
                    conn.run(f"ALTER ROLE {identifier(role)} REPLICATION")
                    self._replication_given.add(role)
                elif has_attribute and not wanted and role in self._replication_given:
                    conn.run(f"ALTER ROLE {identifier(role)} NOREPLICATION")
                    self._replication_given.discard(role)
        except Exception:
            self._close_sync_connection()
            raise

    def _sync_connection(self) -> pg8000.native.Connection:
        """One admin session kept for the syncs (one runs before every connection): opening a
        session per sync costs more than the work."""
        if self._admin_session is not None:
            return self._admin_session
        conn = self.connect_admin()
        conn.run("SET log_statement = 'none'")
        self._admin_session = conn
        return conn

    def _close_sync_connection(self) -> None:
        conn, self._admin_session = self._admin_session, None
        if conn is not None:
            with contextlib.suppress(Exception):  # the server may already have ended it
                conn.close()

    def connect(
        self, database: str = "postgres", user: str | None = None, password: str | None = None
    ) -> pg8000.native.Connection:
        """Over TCP with a password, as a client of RDS connects: the master unless `user`."""
        import pg8000.native

        self.sync_rds_replication(connecting_as=user or self.master_user)
        return pg8000.native.Connection(
            user=user or self.master_user,
            password=password if user else self.master_password,
            host=self.host,
            port=self.port,
            database=database,
            ssl_context=False,  # the local servers run without TLS; pg8000 would build a TLS context (~40 ms) to ask
        )

    def drop_database(self, name: str) -> None:
        """DROP DATABASE ... WITH (FORCE) needs PG13: end the sessions first, on every major."""
        from pg8000.native import identifier

        conn = self.connect_admin()  # ends every session, walsenders included
        try:
            if conn.run("SELECT 1 FROM pg_database WHERE datname = :n", n=name):
                conn.run(f"ALTER DATABASE {identifier(name)} ALLOW_CONNECTIONS false")
                # DROP DATABASE waits up to 5 s for the ended sessions to go.
                conn.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n", n=name)
            conn.run(f"DROP DATABASE IF EXISTS {identifier(name)}")
        finally:
            conn.close()

    def create_database(self, name: str) -> None:
        """Created by the master, which owns it (CREATEDB), as the databases of an RDS instance are."""
        from pg8000.native import identifier

        conn = self.connect()
        try:
            if not conn.run("SELECT 1 FROM pg_database WHERE datname = :n", n=name):
                conn.run(f"CREATE DATABASE {identifier(name)}")
        finally:
            conn.close()

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
