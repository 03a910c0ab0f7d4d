"""A throwaway PostgreSQL schema for a benchmark (when TEST_DATABASE_URL names a server)."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, make_url, text

from bot.store import engine_url


def postgres_schema(prefix: str) -> tuple[str, str] | None:
    """A PostgreSQL URL whose search_path is a fresh schema, and the schema's name; None when
    TEST_DATABASE_URL is not set."""
    raw = os.environ.get("TEST_DATABASE_URL")
    if not raw:
        return None
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with create_engine(engine_url(raw), isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(engine_url(raw)).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_schema(schema: str) -> None:
    raw = os.environ["TEST_DATABASE_URL"]
    with create_engine(engine_url(raw), isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
