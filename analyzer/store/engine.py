"""Database URLs, engines and migrations.

One setting chooses the database: ``SKIN_PROGRESS_DATABASE_URL`` (or the URL the app's
settings page passes to :class:`~analyzer.store.Store`). Without it, the store is a SQLite
file in the data folder (``SKIN_PROGRESS_DATA_DIR``, default ``./data``).

SQLite runs in WAL mode with a 60 s busy timeout and ``synchronous=FULL`` (a commit is on
disk when it returns); write transactions start with ``BEGIN IMMEDIATE`` so two writers
queue instead of failing half-way. PostgreSQL works by URL; ``postgresql://`` is read as
``postgresql+psycopg://`` (psycopg 3 is the driver we ship).
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

from analyzer.config import default_data_dir, store_location
from analyzer.store.errors import InvalidInput, StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
_BUSY_TIMEOUT_MS = 60_000


def default_database_url(data_dir: Path | None = None) -> str:
    """The app's chain (:func:`analyzer.config.store_location`): ``$SKIN_PROGRESS_DATABASE_URL``,
    else ``database_url`` in ``<data_dir>/settings.json``, else
    ``sqlite:///<data_dir>/skin-progress.sqlite3``."""
    env = os.environ.get("SKIN_PROGRESS_DATABASE_URL", "").strip()
    if env:
        return env
    d = Path(data_dir).expanduser().resolve() if data_dir else default_data_dir()
    return store_location(data_dir=d).database_url


def resolve_url(url: str | URL | None, data_dir: Path | None = None) -> URL:
    """Parse and normalise a database URL; raise :class:`InvalidInput` with one line if unusable."""
    raw = url if url is not None else default_database_url(data_dir)
    try:
        u = make_url(raw) if isinstance(raw, str) else raw
    except Exception:
        shown = str(raw).split("@")[-1]
        raise InvalidInput(f"database URL can't be read: …{shown}") from None
    backend = u.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
            u = u.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        if not u.database or u.database == ":memory:" or u.database.startswith("file:"):
            raise InvalidInput("SQLite database must be a file path (sqlite:////abs/path/file.sqlite3)")
        u = u.set(database=str(Path(u.database).expanduser().resolve()))
    else:
        raise InvalidInput(f"unsupported database {backend!r}: use sqlite:///file or postgresql://…")
    return u


def describe_url(u: URL) -> str:
    """``SQLite file /abs/path`` or ``PostgreSQL at host/db`` (never a password)."""
    if u.get_backend_name() == "sqlite":
        return f"SQLite file {u.database}"
    host = u.host or u.query.get("host") or "local socket"
    if isinstance(host, tuple):
        host = host[0]
    port = f":{u.port}" if u.port else ""
    return f"PostgreSQL at {host}{port}/{u.database or ''}"


def _sqlite_events(engine: Engine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised through every test
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(u: URL) -> Engine:
    """The engine the store uses (pooled). SQLite files get their folder created."""
    if u.get_backend_name() == "sqlite":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})
        _sqlite_events(engine, foreign_keys=True)
        return engine
    return sa.create_engine(u, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def migration_engine(u: URL) -> Engine:
    """A throw-away engine for migrations. On SQLite foreign keys are OFF while tables are
    rebuilt (Alembic batch mode), as SQLite requires; every migration then checks them."""
    if u.get_backend_name() == "sqlite":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            u, poolclass=NullPool, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000}
        )
        _sqlite_events(engine, foreign_keys=False)
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return sa.create_engine(u, poolclass=NullPool, connect_args={"connect_timeout": 10})


def alembic_config(connection=None):
    """An Alembic ``Config`` pointing at the packaged migrations (no ini file needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _holds_photos(photo_store) -> bool:
    """True if the photo store (a ``photos/`` folder, or a backend with ``has_originals``) has
    at least one original (stops at the first one found)."""
    if photo_store is None:
        return False
    if hasattr(photo_store, "has_originals"):
        return photo_store.has_originals()
    if not photo_store.is_dir():
        return False
    return any(p.is_file() for p in photo_store.rglob("*"))


def _store_name(photo_store) -> str:
    if isinstance(photo_store, Path):
        return str(photo_store)
    root = getattr(photo_store, "root", None)  # the local folder: name its photos/ folder
    return str(Path(root) / "photos") if root is not None else photo_store.describe()


def migrate(u: URL, revision: str = "head", *, photo_store=None) -> None:
    """Upgrade the database at ``u`` to ``revision`` in one transaction.

    Safe when several processes open the same database at once: SQLite serialises on
    ``BEGIN IMMEDIATE``, PostgreSQL on a transaction-level advisory lock.

    With ``photo_store`` (the data folder's ``photos/``, or a photo backend): a database with no schema at all
    beside a photo store that holds photos is refused (:class:`StoreError` naming both), never
    silently started empty: the database is lost or the wrong one was chosen, and an empty one
    would make every stored photo look like stray files.
    """
    with _MIGRATIONS_IN_THIS_PROCESS, _sqlite_migration_lock(u):
        _migrate(u, revision, photo_store=photo_store)


#: Alembic keeps the running migration's context in module globals (``alembic.context``), so two
#: migrations at once in one process, even of different databases, can read each other's
#: context ("KeyError: 'config'", SQLite "bad parameter or other API misuse"). One at a time.
_MIGRATIONS_IN_THIS_PROCESS = threading.Lock()


@contextmanager
def _sqlite_migration_lock(u: URL):
    """One migration at a time on a SQLite file, across threads and processes: an advisory
    ``flock`` on the database file itself (SQLite's own locks are POSIX byte-range locks, which
    ``flock`` does not touch). Without it, two first opens of a new database at once raced
    (one rebuilding a table the other was reading: "no such table", "table already exists").
    Where the file can't be opened for the lock (a read-only folder), migrate as before."""
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        yield
        return
    path = Path(u.database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "ab")  # noqa: SIM115 - held for the whole migration
    except OSError:
        yield
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        fh.close()  # releases the lock


def _migrate(u: URL, revision: str, *, photo_store) -> None:
    from alembic import command

    engine = migration_engine(u)
    try:
        with engine.begin() as conn:
            if u.get_backend_name() == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7031505)"))
            if photo_store is not None and _no_schema(conn) and _holds_photos(photo_store):
                raise StoreError(
                    f"the database is missing or empty ({describe_url(u)}) but the photo store "
                    f"{_store_name(photo_store)} holds photos: restore the database from a backup or choose the "
                    "right one; nothing was created")
            _refuse_unknown_revision(conn)
            command.upgrade(alembic_config(conn), revision)
            if u.get_backend_name() == "sqlite":
                bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if bad:
                    raise StoreError(f"migration left {len(bad)} broken references; nothing was changed")
    except StoreError:
        raise
    except sa.exc.DBAPIError as exc:  # unreachable server, locked, or not a database (a corrupt file)
        raise StoreError(f"can't open the database ({describe_url(u)}): {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _no_schema(conn) -> bool:
    """No table of ours and no Alembic version: a brand-new (or lost) database."""
    from alembic.runtime.migration import MigrationContext

    if MigrationContext.configure(conn).get_current_revision() is not None:
        return False
    return "patients" not in sa.inspect(conn).get_table_names()


def _refuse_unknown_revision(conn) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = MigrationContext.configure(conn).get_current_revision()
    if current is None:
        return
    script = ScriptDirectory.from_config(alembic_config())
    known = {r.revision for r in script.walk_revisions()}
    if current not in known:
        raise StoreError(
            f"the database was written by a newer version of skin-progress (schema {current}); "
            f"this version knows schemas up to {script.get_current_head()}: upgrade the app"
        )


def downgrade(u: URL, revision: str) -> None:
    """Downgrade (developers and tests only)."""
    from alembic import command

    engine = migration_engine(u)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), revision)
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__
