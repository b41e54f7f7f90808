"""The fleet test's checks (test/fleet/run.sh): each exits 1 with what it found when its
claim does not hold.

  check.py WORK recap PLAY HOST:changed+|unchanged|ok|failed ...   the play recap of PLAY
  check.py WORK refused PLAY HOST TEXT     HOST failed a task with TEXT in flavourctl's message
  check.py WORK diff PLAY LINE ...         the --diff output has each line
  check.py WORK unchanged SNAP1 SNAP2      every host's devices and rules the same in both
  check.py WORK drivers SNAP HOST ADDRESS=DRIVER ...
  check.py WORK rules SNAP HOST NAME ...   HOST's rule files are exactly these
"""
import json
import re
import sys

RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def fail(message):
    print("fleet: FAILED: %s" % message, file=sys.stderr)
    sys.exit(1)


def log(work, play):
    with open("%s/%s.log" % (work, play)) as f:
        return f.read()


def recap(work, play):
    counts = {}
    for line in log(work, play).split("PLAY RECAP", 1)[-1].splitlines():
        m = RECAP.match(line)
        if m:
            ok, changed, unreachable, failed = (int(x) for x in m.groups()[1:])
            counts[m.group(1)] = dict(ok=ok, changed=changed, unreachable=unreachable, failed=failed)
    return counts


def snapshot(work, snap, host):
    with open("%s/%s.%s" % (work, snap, host)) as f:
        text = f.read()
    document, _, rules = text.partition("\n]\n")
    devices = json.loads(document + "\n]")
    state = [
        (d["address"], d["driver"], d["driverOverride"], d["sriov"] and d["sriov"]["numVfs"]) for d in devices
    ]
    return state, [line[5:] for line in rules.splitlines() if line.startswith("RULE ")]


def main(work, what, *args):
    if what == "recap":
        play, specs = args[0], args[1:]
        counts = recap(work, play)
        for spec in specs:
            host, want = spec.split(":")
            got = counts.get(host)
            if got is None:
                fail("%s: no recap line for %s" % (play, host))
            holds = {
                "changed+": got["changed"] > 0,
                "unchanged": got["changed"] == 0,
                "ok": got["failed"] == 0 and got["unreachable"] == 0,
                "failed": got["failed"] > 0 and got["unreachable"] == 0,
            }[want]
            if not holds:
                fail("%s: %s expected %s, recap says %s" % (play, host, want, got))
    elif what == "refused":
        play, host, text = args
        lines = [line for line in log(work, play).splitlines() if line.startswith(("fatal: [%s]" % host, "failed: [%s]" % host))]
        if not any(text in line and '"refused": true' in line for line in lines):
            fail("%s: %s did not fail with %r: %s" % (play, host, text, lines))
    elif what == "diff":
        play, wanted = args[0], args[1:]
        lines = log(work, play).splitlines()
        for line in wanted:
            if line not in lines:
                fail("%s: the diff has no line %r" % (play, line))
    elif what == "unchanged":
        first, second = args
        for host in ("h1", "h2", "h3"):
            a, b = snapshot(work, first, host), snapshot(work, second, host)
            if a != b:
                fail("%s: %s differs from %s:\n  %s\n  %s" % (host, second, first, a, b))
    elif what == "drivers":
        snap, host, pairs = args[0], args[1], args[2:]
        state, _ = snapshot(work, snap, host)
        drivers = {address: driver for address, driver, _, _ in state}
        for pair in pairs:
            address, driver = pair.split("=")
            if drivers.get(address) != driver:
                fail("%s %s: %s is on %s, not %s" % (snap, host, address, drivers.get(address), driver))
    elif what == "rules":
        snap, host, names = args[0], args[1], list(args[2:])
        _, rules = snapshot(work, snap, host)
        if sorted(rules) != sorted(names):
            fail("%s %s: rules %s, expected %s" % (snap, host, rules, names))
    else:
        fail("unknown check %s" % what)


if __name__ == "__main__":
    main(*sys.argv[1:])
