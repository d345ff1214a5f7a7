"""Alembic environment. ``analyzer.store`` passes an open connection in ``config.attributes``
(already inside a transaction, so the whole upgrade is one atomic step on both engines)."""

from __future__ import annotations

from alembic import context

from analyzer.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Command-line use: the URL from the ini file or the environment / default.
    from analyzer.store.engine import migration_engine, resolve_url

    url = config.get_main_option("sqlalchemy.url") or None
    engine = migration_engine(resolve_url(url))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
