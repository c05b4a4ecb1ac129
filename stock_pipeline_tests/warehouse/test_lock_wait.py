"""A reader waits while another process holds the warehouse's write lock, then says who."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from stock_pipeline.warehouse import WarehouseLockedError, connect

# A second process that opens the file for writing, says so, and keeps it for a while.
HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def hold(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


@pytest.fixture
def warehouse(tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with connect(path):  # the schema exists, as after any run
        pass
    return path


def test_reader_waits_for_the_writer_to_finish(warehouse):
    holder = hold(warehouse, 2.0)
    try:
        started = time.monotonic()
        with connect(warehouse, read_only=True) as con:
            waited = time.monotonic() - started
            assert con.execute("SELECT count(*) FROM held").fetchone() == (0,)
        assert waited > 1.0  # it did wait: the holder kept the file for 2 s
        assert holder.poll() is not None or holder.wait(5) == 0
    finally:
        holder.kill()
        holder.wait()


def test_reader_gives_up_with_one_line_naming_file_and_holder(warehouse):
    holder = hold(warehouse, 30.0)
    try:
        started = time.monotonic()
        with (
            pytest.raises(WarehouseLockedError) as caught,
            connect(warehouse, read_only=True, lock_wait_s=1.0),
        ):
            pass
        waited = time.monotonic() - started
        message = str(caught.value)
        assert 1.0 <= waited < 5.0
        assert str(warehouse) in message
        assert f"PID {holder.pid}" in message
        assert "\n" not in message
        assert isinstance(caught.value, OSError)  # the CLI prints it as one error line
    finally:
        holder.kill()
        holder.wait()


def test_writer_waits_too(warehouse):
    holder = hold(warehouse, 1.5)
    try:
        with connect(warehouse) as con:
            con.execute("INSERT INTO held VALUES (1)")
            assert con.execute("SELECT count(*) FROM held").fetchone() == (1,)
    finally:
        holder.kill()
        holder.wait()
