"""Fixtures for the corekv integration suite.

Environment:
  COREKV_BIN     server binary (default <repo>/build/corekv). Pointing it at a redis-server
                 binary runs the suite against Redis itself (a self-test of the suite).
  COREKV_SHARDS  shard counts to test, comma separated (default "1,2,4,8").
  REDIS_SERVER   reference redis-server for differential tests (default /usr/bin/redis-server;
                 differential tests are skipped if it does not exist).
  COREKV_TEST_HANG_TIMEOUT  seconds after which a single hung test aborts the run (default 120).

Servers are spawned once per (test module, shard count) and FLUSHALL'd before every test.
After every test the server must still be alive and its log must hold no sanitizer report.
"""
import faulthandler
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402
from helpers import Server, sanitizer_report  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COREKV_BIN = os.environ.get("COREKV_BIN", os.path.join(REPO, "build", "corekv"))
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
SHARDS = helpers.shard_counts()
HANG_TIMEOUT = float(os.environ.get("COREKV_TEST_HANG_TIMEOUT", "120"))


# A watchdog: if one test hangs (a bug that no socket timeout catches), dump every thread's
# stack and abort the run instead of hanging CI. Spawned servers die with us (PDEATHSIG).
@pytest.fixture(autouse=True)
def _hang_watchdog():
    faulthandler.dump_traceback_later(HANG_TIMEOUT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _check_log(server, where):
    rep = sanitizer_report(server.new_log_text())
    if rep:
        pytest.fail(f"sanitizer report in {server.log_path} ({where}):\n{rep}", pytrace=False)


@pytest.fixture(scope="module", params=SHARDS, ids=lambda n: f"shards{n}")
def server_mod(request, tmp_path_factory):
    if not os.path.exists(COREKV_BIN):
        pytest.skip(f"server binary {COREKV_BIN} not built (set COREKV_BIN)")
    n = request.param
    logdir = str(tmp_path_factory.mktemp(f"corekv-{n}"))
    modname = request.module.__name__.rsplit(".", 1)[-1]
    srv = Server(COREKV_BIN, n, logdir, f"corekv-{modname}-s{n}")
    srv.start()
    yield srv  # the `server` fixture restarts it if a test crashed it
    status, killed = srv.stop()
    rep = sanitizer_report(srv.new_log_text())  # what the per-test checks have not seen
    if rep:
        pytest.fail(f"sanitizer report at shutdown in {srv.log_path}:\n{rep}", pytrace=False)
    if status not in (0, -15, None):
        pytest.fail(f"server exited with status {status} after SIGTERM (log {srv.log_path}):\n"
                    f"{srv.log_text()[-3000:]}", pytrace=False)
    if killed:
        pytest.fail(f"server did not exit within 10 s of SIGTERM (log {srv.log_path})",
                    pytrace=False)


@pytest.fixture
def server(server_mod, request):
    """The module's corekv server, alive and empty. Fails the test if the server crashed or
    printed a sanitizer report while the test ran."""
    srv = server_mod
    if not srv.alive():
        srv.start()
    with srv.raw() as c:
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
    yield srv
    if not srv.alive():
        tail = srv.log_text()[-4000:]
        code = srv.proc.returncode
        srv.proc = None
        pytest.fail(f"server died during {request.node.name} (status {code}); log tail:\n{tail}",
                    pytrace=False)
    _check_log(srv, request.node.name)


@pytest.fixture
def once(server):
    """For checks that do not depend on the shard count (command metadata): run them with
    the first shard count only, so a difference is reported once."""
    if server.shards != SHARDS[0]:
        pytest.skip("shard-independent check, run with the first shard count only")


@pytest.fixture
def nshards(server):
    return server.shards


@pytest.fixture
def r(server):
    """redis-py client (bytes replies) on the corekv server."""
    c = server.client()
    yield c
    c.close()


@pytest.fixture
def rd(server):
    """redis-py client with decoded (str) replies."""
    c = server.client(decode_responses=True)
    yield c
    c.close()


@pytest.fixture
def raw(server):
    c = server.raw()
    yield c
    c.close()


# ------------------------------------------------------------------------------------------
# The reference redis-server (one for the whole session)
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_ref_session(tmp_path_factory):
    if not os.path.exists(REDIS_SERVER):
        pytest.skip(f"{REDIS_SERVER} not installed: differential test skipped")
    logdir = str(tmp_path_factory.mktemp("redis-ref"))
    srv = Server(REDIS_SERVER, 1, logdir, "redis-ref")
    srv.start()
    yield srv
    srv.stop()


# Configuration the tests may change on the reference, restored after every test.
_REF_CONFIG = ("proto-max-bulk-len", "client-query-buffer-limit", "maxmemory",
               "maxmemory-policy")


@pytest.fixture
def redis_ref(redis_ref_session):
    srv = redis_ref_session
    if not srv.alive():
        srv.start()
    with srv.raw() as c:
        saved = {k: c.call("CONFIG", "GET", k)[1] for k in _REF_CONFIG}
        assert c.cmd("FLUSHALL") == b"+OK\r\n"
    yield srv
    with srv.raw() as c:
        for k, v in saved.items():
            c.cmd("CONFIG", "SET", k, v)


class Differ:
    """Runs command scripts on corekv and redis-server and compares the raw reply bytes."""

    def __init__(self, core, ref):
        self.core = core
        self.ref = ref
        self.conns = []
        self.proto = 2  # a module may override the fixture to run its scripts in RESP3

    def conns_pair(self):
        a, b = self.core.raw(), self.ref.raw()
        self.conns += [a, b]
        if self.proto == 3:
            for c, who in ((a, "corekv"), (b, "redis-server")):
                rep = c.cmd("HELLO", "3")
                assert rep.startswith(b"%"), f"{who}: HELLO 3 gave {rep[:80]!r}"
        return a, b

    def check(self, script, pair=None):
        a, b = pair or self.conns_pair()
        diffs = helpers.compare_scripts(a, b, script)
        if diffs:
            pytest.fail(f"{len(diffs)} replies differ from redis-server "
                        f"(shards={self.core.shards}):\n" + "\n".join(diffs), pytrace=False)

    def mismatches(self, script, pair=None):
        a, b = pair or self.conns_pair()
        return helpers.compare_scripts(a, b, script)

    def check_raw(self, data, nreplies, probe=True):
        """Send the same raw bytes on fresh connections to both servers; compare the replies
        and whether the connection is still open afterwards."""
        a, b = self.conns_pair()
        ref = helpers.exchange(b, data, nreplies, probe)
        got = helpers.exchange(a, data, nreplies, probe)
        if ref != got:
            pytest.fail(f"raw input {data[:120]!r}{'...' if len(data) > 120 else ''}\n"
                        + helpers.fmt_pair(repr(ref).encode(), repr(got).encode()),
                        pytrace=False)
        return got

    def close(self):
        for c in self.conns:
            c.close()


@pytest.fixture
def differ(server, redis_ref):
    d = Differ(server, redis_ref)
    yield d
    d.close()
