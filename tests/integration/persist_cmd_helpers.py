"""Helpers for the per-command crash tests (test_persist_commands*.py): a corekv server on its
own --dir with the append-only log on, killed and restarted on the same files; the whole
keyspace read back (type, contents, PEXPIRETIME of every key); scenarios written as command
lists with key placeholders.

Placeholders in a scenario's arguments, replaced per scenario (its prefix p<i> keeps its keys
apart from every other scenario's):
  $A $B $C   keys owned by shards 0, 1, 2 (mod the shard count): different shards when there
             are several, so multi-key commands run across shards
  $G         the hash tag "{p<i>}": "$Gx" and "$Gy" share a shard (the one-shard paths)
A command whose first word starts with "!" must reply an error (the "!" is dropped)."""
import os
import re

from helpers import Err, Server, decode, encode, sanitizer_report, shard_of

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COREKV_BIN = os.environ.get("COREKV_BIN", os.path.join(REPO, "build", "corekv"))


def shard_params():
    """Shard counts of these tests: COREKV_PERSIST_SHARDS, default 1 and 3."""
    env = os.environ.get("COREKV_PERSIST_SHARDS", "1,3")
    return [int(x) for x in env.split(",") if x.strip()]


class PersistServer(Server):
    """corekv with --dir, --appendonly yes, --appendfsync <policy>, --save ""."""

    def __init__(self, shards, tmpdir, fsync="always", name="persist", extra=()):
        self.dir = os.path.join(str(tmpdir), "data")
        os.makedirs(self.dir, exist_ok=True)
        flags = ["--dir", self.dir, "--appendonly", "yes", "--appendfsync", fsync,
                 "--save", ""] + list(extra)
        super().__init__(COREKV_BIN, shards, str(tmpdir), f"{name}-s{shards}", flags)

    def kill9(self):
        """SIGKILL: only what reached the kernel survives."""
        self.check_log()
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def terminate(self):
        """SIGTERM, as SHUTDOWN: flushes and syncs every shard's log."""
        status, killed = self.stop()
        assert not killed, f"no exit within 10 s of SIGTERM (log {self.log_path})"
        assert status == 0, f"exit status {status} after SIGTERM:\n{self.log_text()[-3000:]}"
        self.check_log()
        self.proc = None

    def wait_exit(self, timeout=10):
        status = self.proc.wait(timeout)
        self.check_log()
        self.proc = None
        return status

    def restart(self):
        assert self.proc is None or self.proc.poll() is not None
        self.start(timeout=60)
        self.check_log()

    def check_log(self):
        rep = sanitizer_report(self.log_text())
        assert not rep, f"sanitizer report in {self.log_path}:\n{rep}"

    def aof_dir(self):
        return os.path.join(self.dir, "appendonlydir")


def call(c, *args):
    return decode(c.cmd(*args))


def _sorted_pairs(flat):
    return sorted(zip(flat[0::2], flat[1::2]))


def read_state(c):
    """{key: (type, pexpiretime, contents)} for every key of the keyspace."""
    state = {}
    keys = call(c, "KEYS", "*")
    assert not isinstance(keys, Err), keys
    for k in sorted(keys):
        t = call(c, "TYPE", k)
        exp = call(c, "PEXPIRETIME", k)
        if t == b"string":
            v = call(c, "GET", k)
        elif t == b"list":
            v = call(c, "LRANGE", k, 0, -1)
        elif t == b"set":
            v = sorted(call(c, "SMEMBERS", k))
        elif t == b"zset":
            v = call(c, "ZRANGE", k, 0, -1, "WITHSCORES")
        elif t == b"hash":
            v = _sorted_pairs(call(c, "HGETALL", k))
        elif t == b"none":
            continue  # expired between KEYS and TYPE
        else:
            v = f"unknown type {t!r}"
        state[k] = (t, exp, v)
    return state


_GROUP = re.compile(rb"^\{?(p\d+)[.}]")


def group_of(key):
    m = _GROUP.match(key)
    return m.group(1).decode() if m else "?"


def diff_states(before, after, names=None):
    """Lines describing every difference, grouped by scenario (names: prefix -> label)."""
    out = []
    for k in sorted(set(before) | set(after)):
        b, a = before.get(k), after.get(k)
        if a != b:
            g = group_of(k)
            label = names.get(g, g) if names else g
            out.append(f"  [{label}] {k!r}: before kill {b!r}, after restart {a!r}")
    return out


def restart_and_compare(srv, before, what, names=None, how="kill9"):
    """Stop the server (kill -9, or `how` already did it cleanly), start it again on the same
    files, and assert the whole state equals `before`; returns the state read."""
    if how == "kill9":
        srv.kill9()
    srv.restart()
    with srv.raw() as c:
        after = read_state(c)
    diffs = diff_states(before, after, names)
    assert not diffs, (f"{what}: {len(diffs)} keys differ after {how} and restart "
                       f"({srv.shards} shards, log {srv.log_path}):\n" + "\n".join(diffs[:80]))
    return after


class Keys:
    """The keys of one scenario: prefix p<i>, $A/$B/$C on shards 0/1/2 mod n."""

    def __init__(self, index, nshards):
        self.prefix = f"p{index}"
        self.map = {"$G": "{%s}" % self.prefix}
        for name, shard in (("$A", 0), ("$B", 1), ("$C", 2)):
            j = 0
            while True:
                k = f"{self.prefix}.{name[1].lower()}{j}"
                if shard_of(k, nshards) == shard % nshards:
                    break
                j += 1
            self.map[name] = k

    def fill(self, arg):
        arg = str(arg)
        for ph, k in self.map.items():
            arg = arg.replace(ph, k)
        return arg


def run_commands(c, keys, cmds, label):
    """Run one scenario's commands; returns a list of problems (unexpected replies)."""
    problems = []
    for cmd in cmds:
        want_err = str(cmd[0]).startswith("!")
        args = [keys.fill(a) for a in ((str(cmd[0]).lstrip("!"),) + tuple(cmd[1:]))]
        rep = decode(c.cmd(*args))
        if want_err != isinstance(rep, Err):
            problems.append(f"  [{label}] {' '.join(args)} -> {rep!r}"
                            f" ({'an error was expected' if want_err else 'unexpected error'})")
    return problems


def run_pipelined(c, keys, cmds):
    """Send every command of a scenario at once, then read the replies (the last reply is
    read before the process is killed: what it acknowledges must survive)."""
    data = b"".join(encode(*[keys.fill(a) for a in ((str(x[0]).lstrip("!"),) + tuple(x[1:]))])
                    for x in cmds)
    c.send(data)
    return [c.read_reply() for _ in cmds]


def write_commands(c):
    """The names of every command COMMAND lists with the "write" flag."""
    names = set()
    for info in call(c, "COMMAND"):
        flags = info[2]
        if b"write" in flags:
            names.add(info[0].decode().lower())
    return names
