"""The example command set (examples/counterd) on the public runtime face, through a
real client library: keys on every shard, a split DEL, a fan-out DBSIZE."""
import os
import socket
import subprocess
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("COREKV_EXAMPLE_BIN", os.path.join(ROOT, "build", "counterd"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=[1, 4], ids=lambda n: f"shards{n}")
def counterd(request, tmp_path):
    if not os.path.exists(BIN):
        pytest.skip(f"{BIN} not built")
    port = free_port()
    log = open(tmp_path / "counterd.log", "w+")
    proc = subprocess.Popen([BIN, "--port", str(port), "--shards", str(request.param)],
                            stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port, socket_timeout=10)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
    yield client
    client.close()
    proc.terminate()
    assert proc.wait(timeout=10) == 0
    log.seek(0)
    out = log.read()
    assert "Sanitizer" not in out and "runtime error" not in out, out


def test_counters_across_shards(counterd):
    keys = [f"counter:{i}" for i in range(100)]
    pipe = counterd.pipeline(transaction=False)
    for k in keys:  # redis-py's incr() sends INCRBY, which counterd does not have
        pipe.execute_command("INCR", k)
        pipe.execute_command("INCR", k)
    assert pipe.execute() == [1, 2] * 100
    assert counterd.get("counter:7") == b"2"
    assert counterd.get("missing") is None
    assert counterd.dbsize() == 100
    assert counterd.execute_command("DEL", *keys[:30], "missing") == 30
    assert counterd.dbsize() == 70


def test_unknown_command_and_arity(counterd):
    with pytest.raises(redis.ResponseError, match="unknown command"):
        counterd.execute_command("SET", "a", "b")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        counterd.execute_command("INCR")
