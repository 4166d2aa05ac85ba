#!/usr/bin/env python3
"""Count where secrets occur in a process's memory (test/e2e/60_hsm.sh).

    memscan.py PID NAME=HEX...

Reads every readable mapping of /proc/PID/mem (root, or the process's own
OS user) and prints one line per needle: "NAME COUNT", COUNT being how many
times the needle's bytes occur raw, plus how many times its lower- and
upper-case hex text occurs.  Bounded: mappings larger than 1 GiB and
special ones ([vvar], [vsyscall]) are skipped.
"""
import re
import sys


def regions(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)", line)
            if not m or m.group(3)[0] != "r":
                continue
            start, end, name = int(m.group(1), 16), int(m.group(2), 16), m.group(4)
            if name in ("[vvar]", "[vsyscall]", "[vvar_vclock]") or end - start > (1 << 30):
                continue
            yield start, end


def main():
    pid = int(sys.argv[1])
    needles = []
    for arg in sys.argv[2:]:
        name, hx = arg.split("=", 1)
        raw = bytes.fromhex(hx)
        needles.append((name, [raw, hx.lower().encode(), hx.upper().encode()]))
    counts = {name: 0 for name, _ in needles}
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for start, end in regions(pid):
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except OSError:
                continue
            for name, forms in needles:
                for b in forms:
                    counts[name] += data.count(b)
    for name, _ in needles:
        print(name, counts[name])


main()
