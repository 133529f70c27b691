"""Harness of the persistence tests test_persist_{crash,snapshot,files}.py: servers on a data
directory that can be killed with SIGKILL and started again on the same files, a reference
redis-server on a directory, the whole keyspace as a comparable dict, the files a server writes.
The load (writers that remember what was acknowledged, a data set of every type) is in
persist_load.py.

Environment (besides conftest.py's COREKV_BIN, REDIS_SERVER, COREKV_SHARDS):
  COREKV_PERSIST_SHARDS  shard counts of the expensive tests (default "1,3"); the cheap ones run
                         with the suite's counts plus 1 and 3.
  REDIS_CHECK_RDB, REDIS_CHECK_AOF  the checkers (default /usr/bin/redis-check-{rdb,aof}).
With COREKV_BIN pointing at a redis-server binary the tests run against Redis itself, one
"shard" (a self-test of the harness); corekv-only checks (per-shard files) are skipped then.
"""
import glob
import os
import re
import signal
import subprocess

import pytest
import redis

import helpers
from helpers import Server, sanitizer_report, wait_for

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COREKV_BIN = os.environ.get("COREKV_BIN", os.path.join(REPO, "build", "corekv"))
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
REDIS_CHECK_RDB = os.environ.get("REDIS_CHECK_RDB", "/usr/bin/redis-check-rdb")
REDIS_CHECK_AOF = os.environ.get("REDIS_CHECK_AOF", "/usr/bin/redis-check-aof")
SELF_TEST = helpers.is_redis_binary(COREKV_BIN)

NET_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)


def shard_params(cheap):
    """Shard counts to parametrize a test with: cheap tests get the suite's counts plus 1 and 3,
    expensive ones COREKV_PERSIST_SHARDS (default 1,3). Redis itself has one."""
    if SELF_TEST:
        return [1]
    env = os.environ.get("COREKV_PERSIST_SHARDS")
    if env:
        return [int(x) for x in env.split(",") if x.strip()]
    return sorted(set(helpers.shard_counts()) | {1, 3}) if cheap else [1, 3]


def need_binary(path):
    if not os.path.exists(path):
        pytest.skip(f"{path} not found")


def corekv_only():
    if SELF_TEST:
        pytest.skip("corekv-specific (per-shard files); COREKV_BIN is a redis-server")


# --------------------------------------------------------------------------------------------
# Servers on a data directory
# --------------------------------------------------------------------------------------------

class DataServer(Server):
    """A corekv (or redis-server) on a fixed --dir. `flags` are config names and values
    (appendonly, appendfsync, save, ...), passed as --name value; the defaults are save ""
    (as the suite's redis-server) and, for redis-server, appendonly no."""

    def __init__(self, binary, shards, data_dir, logdir, name, flags=None):
        super().__init__(binary, shards, logdir, name)
        self.dir = data_dir
        self.flags = dict(flags or {})
        os.makedirs(data_dir, exist_ok=True)

    @property
    def is_redis(self):
        return helpers.is_redis_binary(self.binary)

    def argv(self, port):
        flags = {"save": ""}
        if self.is_redis:
            flags["appendonly"] = "no"
        flags.update(self.flags)
        if self.is_redis:
            argv = [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "no",
                    "--logfile", "", "--databases", "1", "--dir", self.dir]
        else:
            argv = [self.binary, "--port", str(port), "--bind", "127.0.0.1",
                    "--shards", str(self.shards), "--dir", self.dir] + helpers.io_args()
        for k, v in flags.items():
            argv += ["--" + k, str(v)]
        return argv

    def kill9(self):
        """SIGKILL: the process gets no chance to flush anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def wait_exit(self, timeout=30.0):
        """Waits for the process to exit on its own; returns its status (None: still running)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def start_failing(self, timeout=20.0):
        """Starts the server expecting start-up to fail. Returns (exit status, log text); the
        status is None if the server was still running after `timeout` (then it is killed).
        Answering PING is no proof of success: a server may listen while it still loads."""
        self.starts += 1
        self.port = helpers.free_port()
        self.log_path = os.path.join(self.logdir, f"{self.name}-{self.starts}.log")
        self.log_offset = 0
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(self.argv(self.port), stdout=logf,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=helpers._pdeathsig)
        status = self.wait_exit(timeout)
        if status is None:
            self.kill9()
        return status, self.log_text()

    def info(self, section="persistence"):
        with self.client() as c:
            return c.info(section)


class ServerSet:
    """Creates DataServers for one test; at teardown kills those still running and fails the
    test on a sanitizer report in any of their logs."""

    def __init__(self, tmp_path):
        self.tmp = str(tmp_path)
        self.logdir = os.path.join(self.tmp, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.servers = []

    def _make(self, binary, shards, data_dir, flags, name):
        need_binary(binary)
        name = name or f"srv{len(self.servers)}"
        data_dir = data_dir or os.path.join(self.tmp, name + "-data")
        s = DataServer(binary, shards, data_dir, self.logdir, name, flags)
        self.servers.append(s)
        return s

    def corekv(self, shards, data_dir=None, flags=None, name=None):
        return self._make(COREKV_BIN, shards, data_dir, flags, name)

    def redis(self, data_dir=None, flags=None, name=None):
        """A reference redis-server on a directory."""
        return self._make(REDIS_SERVER, 1, data_dir, flags, name or f"redis{len(self.servers)}")

    def close(self):
        reports = []
        for s in self.servers:
            if s.proc is not None and s.proc.poll() is None:
                s.stop()
        for path in sorted(glob.glob(os.path.join(self.logdir, "*.log"))):
            with open(path, "rb") as f:
                rep = sanitizer_report(f.read().decode(errors="replace"))
            if rep:
                reports.append(f"sanitizer report in {path}:\n{rep}")
        return reports


def server_set(tmp_path):
    """The body of a test module's `servers` fixture (yield from it)."""
    ss = ServerSet(tmp_path)
    yield ss
    reports = ss.close()
    if reports:
        pytest.fail("\n".join(reports), pytrace=False)


def log_tail(srv, n=3000):
    return f"--- {srv.log_path} ---\n{srv.log_text()[-n:]}"


def stop_cleanly(srv, timeout=30.0):
    """SIGTERM; the server must exit with status 0 (it flushes and syncs its files)."""
    status, killed = srv.stop(timeout)
    assert not killed, f"{srv.name} did not exit within {timeout}s of SIGTERM\n{log_tail(srv)}"
    assert status == 0, f"{srv.name} exited with status {status} after SIGTERM\n{log_tail(srv)}"


def shutdown(srv, *args, timeout=30.0):
    """SHUTDOWN [args]: the connection must close without a reply and the process exit 0."""
    c = srv.client()
    try:
        reply = c.execute_command("SHUTDOWN", *args)
    except NET_ERRORS:
        reply = None
    finally:
        c.close()
    assert reply is None, f"SHUTDOWN {' '.join(args)} replied {reply!r}"
    status = srv.wait_exit(timeout)
    assert status == 0, (f"SHUTDOWN {' '.join(args)}: exit status {status}\n{log_tail(srv)}")


def wait_info(srv, cond, timeout=30.0, what="INFO persistence condition"):
    """Polls INFO persistence until cond(info dict) holds; returns that dict."""
    box = {}

    def check():
        box["info"] = srv.info()
        return cond(box["info"])
    try:
        wait_for(check, timeout, interval=0.01, what=what)
    except AssertionError as e:
        raise AssertionError(f"{e}; last INFO persistence: {box.get('info')}") from None
    return box["info"]


# --------------------------------------------------------------------------------------------
# The keyspace as a comparable dict
# --------------------------------------------------------------------------------------------

def keyspace(srv, chunk=1000):
    """{key: (type, value, PEXPIRETIME)} of every key; values canonical (hash: sorted pairs,
    set: sorted members, zset: (member, score) pairs in order, list: the list)."""
    out = {}
    with srv.client() as c:
        keys = sorted(c.keys("*"))
        for i in range(0, len(keys), chunk):
            part = keys[i:i + chunk]
            p = c.pipeline(transaction=False)
            for k in part:
                p.type(k)
            types = [t.decode() for t in p.execute()]
            p = c.pipeline(transaction=False)
            for k, t in zip(part, types):
                if t == "string":
                    p.get(k)
                elif t == "list":
                    p.lrange(k, 0, -1)
                elif t == "hash":
                    p.hgetall(k)
                elif t == "set":
                    p.smembers(k)
                elif t == "zset":
                    p.zrange(k, 0, -1, withscores=True)
                else:
                    p.echo(b"?")
                p.execute_command("PEXPIRETIME", k)
            res = p.execute()
            for j, (k, t) in enumerate(zip(part, types)):
                v, exp = res[2 * j], res[2 * j + 1]
                if t == "none":
                    continue  # expired between KEYS and TYPE
                if t == "hash":
                    v = tuple(sorted(v.items()))
                elif t == "set":
                    v = tuple(sorted(v))
                elif t in ("zset", "list"):
                    v = tuple(v)
                out[k] = (t, v, exp)
    return out


def _short(x, n=120):
    s = repr(x)
    return s if len(s) <= n else s[:n] + "..."


def diff_keyspaces(want, got, want_name="expected", got_name="corekv", limit=15):
    """'' when equal, else a description of the first differences."""
    lines = []
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    changed = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    if missing:
        lines.append(f"{len(missing)} keys missing from {got_name}: "
                     + ", ".join(_short(k, 40) for k in missing[:limit]))
    if extra:
        lines.append(f"{len(extra)} keys only in {got_name}: "
                     + ", ".join(_short(k, 40) for k in extra[:limit]))
    for k in changed[:limit]:
        lines.append(f"  {k!r}:\n    {want_name}: {_short(want[k], 200)}\n"
                     f"    {got_name}: {_short(got[k], 200)}")
    if len(changed) > limit:
        lines.append(f"  ... {len(changed) - limit} more keys differ")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

def rdb_paths(srv, dbfilename="dump.rdb"):
    """The snapshot files a SAVE writes: corekv one per shard (<stem>-<i>.rdb), redis one."""
    if srv.is_redis:
        return [os.path.join(srv.dir, dbfilename)]
    stem = dbfilename[:-4] if dbfilename.endswith(".rdb") else dbfilename
    suffix = ".rdb" if dbfilename.endswith(".rdb") else ""
    return [os.path.join(srv.dir, f"{stem}-{i}{suffix}") for i in range(srv.shards)]


def manifests(data_dir, appenddirname="appendonlydir"):
    return sorted(glob.glob(os.path.join(data_dir, appenddirname, "*.manifest")))


def parse_manifest(path):
    """[{file, seq, type}] of a Redis 7 manifest ('file X seq N type b|h|i' lines)."""
    out = []
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            d = dict(zip(words[0::2], words[1::2]))
            out.append({"file": d.get("file", "").strip('"'), "seq": int(d.get("seq", 0)),
                        "type": d.get("type")})
    return out


def last_incr_file(manifest):
    incr = [e for e in parse_manifest(manifest) if e["type"] == "i"]
    assert incr, f"{manifest} names no incr file"
    return os.path.join(os.path.dirname(manifest), max(incr, key=lambda e: e["seq"])["file"])


def aof_records(data):
    """Parses RESP multibulk records: ([(start, end, [args])], offset where parsing stopped)."""
    recs = []
    pos = 0
    n = len(data)
    while pos < n:
        start = pos
        e = data.find(b"\r\n", pos)
        if e < 0 or data[pos:pos + 1] != b"*":
            break
        try:
            argc = int(data[pos + 1:e])
        except ValueError:
            break
        pos = e + 2
        args = []
        for _ in range(argc):
            e = data.find(b"\r\n", pos)
            if e < 0 or data[pos:pos + 1] != b"$":
                return recs, start
            ln = int(data[pos + 1:e])
            if e + 2 + ln + 2 > n:
                return recs, start
            args.append(data[e + 2:e + 2 + ln])
            pos = e + 2 + ln + 2
        recs.append((start, pos, args))
    return recs, pos


def run_checker(argv, timeout=60):
    p = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def check_rdb(path):
    """(ok, output) of redis-check-rdb on one file."""
    need_binary(REDIS_CHECK_RDB)
    code, out = run_checker([REDIS_CHECK_RDB, path])
    return code == 0 and "RDB looks OK" in out, out


def check_aof(manifest):
    need_binary(REDIS_CHECK_AOF)
    code, out = run_checker([REDIS_CHECK_AOF, manifest])
    return code == 0 and "is valid" in out, out


def flip_byte(path, offset, mask=0x40):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ mask]))


def grep_log(text, pattern):
    return [ln for ln in text.splitlines() if re.search(pattern, ln, re.I)]
