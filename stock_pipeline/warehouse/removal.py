"""Removing one ticker's stored rows: every table with a ``ticker`` column, in one transaction.

The tables are found in the file's own catalog rather than listed here, so a table added
later is covered without anyone remembering this module.
"""

from __future__ import annotations

from stock_pipeline.warehouse.connection import Connection, transaction


def ticker_tables(con: Connection) -> list[str]:
    """The tables (not views) of the warehouse that hold a ``ticker`` column."""
    rows = con.execute(
        """
        SELECT c.table_name
        FROM information_schema.columns AS c
        JOIN information_schema.tables AS t
          USING (table_catalog, table_schema, table_name)
        WHERE c.column_name = 'ticker' AND t.table_type = 'BASE TABLE'
          AND c.table_schema = current_schema()
        ORDER BY c.table_name
        """
    ).fetchall()
    return [name for (name,) in rows]


def _quoted(table: str) -> str:
    """A table name from the catalog as an SQL identifier (values are always bound)."""
    return '"' + table.replace('"', '""') + '"'


def ticker_row_counts(con: Connection, ticker: str) -> dict[str, int]:
    """Table -> how many of its rows belong to ``ticker`` (tables without any left out)."""
    counts = {}
    for table in ticker_tables(con):
        [(count,)] = con.execute(
            f"SELECT count(*) FROM {_quoted(table)} WHERE ticker = ?", [ticker]
        ).fetchall()
        if count:
            counts[table] = int(count)
    return counts


def delete_ticker_rows(con: Connection, ticker: str) -> dict[str, int]:
    """Delete every row of ``ticker`` from every table, all or nothing; returns table ->
    rows deleted (tables without any left out)."""
    deleted = {}
    with transaction(con):
        for table in ticker_tables(con):
            [(count,)] = con.execute(
                f"DELETE FROM {_quoted(table)} WHERE ticker = ?", [ticker]
            ).fetchall()
            if count:
                deleted[table] = int(count)
    return deleted
