#!/usr/bin/env python3
"""Project Wycheproof signature vectors through mobisign_verify_signature.

Every vector of every *_test.json in ../shared/testdata/wycheproof is loaded in
bulk (COPY) and evaluated with one SQL statement per file:
mobisign_verify_signature(publicKeyDer, msg, sig, algorithm), the algorithm
named from the file (ECDSA + SHA-256/384/512 -> ecdsa-sha256/384/512,
RSASSA-PKCS1-v1_5 + SHA-256 -> rsa-pkcs1-sha256, RSASSA-PSS SHA-256 MGF1-SHA-256
salt 32 -> rsa-pss-sha256).

A verifier must accept every 'valid' vector and reject every 'invalid' one;
'acceptable' may go either way. A malformed signature must give false, not an
error: an error is caught per row, counted as a rejection for 'invalid' and
'acceptable' vectors (and listed), and as a failure for 'valid' ones. A crash
(the server process dying) is counted separately.

Summary line:
  Wycheproof: N vectors, N valid accepted, N invalid rejected, N acceptable (A accepted/R rejected), N crashes, N failures
"""
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import extlib  # noqa: E402

DATA = os.path.join(extlib.SHARED, "testdata", "wycheproof")
DB = os.environ.get("MOBISIGN_WYCHEPROOF_DB", "mobisign_wycheproof")

HASHES = {"SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}

SETUP = r"""
CREATE TEMP TABLE wy (file text, tc integer, result text, algorithm text,
                      key bytea, msg bytea, sig bytea);
-- The per-row outcome: 'accepted', 'rejected', or 'error SQLSTATE message'.
CREATE FUNCTION pg_temp.try_verify(k bytea, m bytea, s bytea, alg text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE mobisign_verify_signature(k, m, s, alg)
               WHEN true THEN 'accepted' WHEN false THEN 'rejected' ELSE 'null' END;
EXCEPTION WHEN OTHERS THEN
    RETURN 'error ' || SQLSTATE || ' ' || SQLERRM;
END
$$;
"""


def algorithm_of(doc, group):
    alg = doc.get("algorithm")
    sha = HASHES.get(group.get("sha"))
    if sha is None:
        raise ValueError("unsupported hash %r" % group.get("sha"))
    if alg == "ECDSA":
        return "ecdsa-" + sha
    if alg == "RSASSA-PKCS1-v1_5":
        return "rsa-pkcs1-" + sha
    if alg == "RSASSA-PSS":
        # mobisign's rsa-pss-* means MGF1 with the same hash and salt = hash length
        if group.get("mgf") != "MGF1" or HASHES.get(group.get("mgfSha")) != sha:
            raise ValueError("unsupported PSS parameters in %s" % group)
        if group.get("sLen") != {"sha256": 32, "sha384": 48, "sha512": 64}[sha]:
            raise ValueError("unsupported PSS salt length %r" % group.get("sLen"))
        return "rsa-pss-" + sha
    raise ValueError("unsupported algorithm %r" % alg)


def copy_escape_hex(h):
    # bytea hex input in COPY text format: the backslash itself is escaped
    return "\\\\x" + h


def main():
    files = sorted(glob.glob(os.path.join(DATA, "*_test.json")))
    if not files:
        print("Wycheproof: no *_test.json in %s" % DATA)
        return 1

    sql = [SETUP, "COPY wy FROM STDIN;"]
    expected = {}
    for path in files:
        base = os.path.basename(path)
        with open(path) as fh:
            doc = json.load(fh)
        for group in doc["testGroups"]:
            alg = algorithm_of(doc, group)
            key = group["publicKeyDer"]
            for t in group["tests"]:
                expected[(base, t["tcId"])] = t
                sql.append("\t".join([base, str(t["tcId"]), t["result"], alg, copy_escape_hex(key),
                                      copy_escape_hex(t["msg"]), copy_escape_hex(t["sig"])]))
    sql.append("\\.")
    for path in files:
        base = os.path.basename(path)
        sql.append("SELECT file || '|' || tc || '|' || pg_temp.try_verify(key, msg, sig, algorithm) "
                   "FROM wy WHERE file = %s ORDER BY tc;" % extlib.sql_text(base))

    print("Wycheproof: %d files, %d vectors from %s" % (len(files), len(expected), DATA))
    extlib.fresh_database(DB)
    crashes = 0
    try:
        out = extlib.psql("\n".join(sql) + "\n", DB)
    except RuntimeError as e:
        # the whole batch died: a crash (or a broken setup); nothing was judged
        print("Wycheproof: batch failed: %s" % e)
        out = ""
        crashes = 1

    got = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        f, tc, outcome = line.split("|", 2)
        got[(f, int(tc))] = outcome

    notes = []

    def note(msg):
        notes.append(msg)
        if len(notes) <= 20:
            print("note: " + msg)

    counts = {"valid_ok": 0, "invalid_ok": 0, "acc_acc": 0, "acc_rej": 0, "fail": 0, "errors": 0}
    per_file = {}
    for (f, tc), t in sorted(expected.items()):
        outcome = got.get((f, tc))
        res = t["result"]
        pf = per_file.setdefault(f, [0, 0])
        pf[0] += 1
        bad = False
        if outcome is None:
            bad = True
            outcome = "no result"
        elif outcome.startswith("error"):
            counts["errors"] += 1
            sqlstate = outcome.split(" ", 2)[1]
            # an error is a rejection only when it is about the input (class 22,
            # data exception); a missing function, an internal error or the
            # like (42xxx, XX000, ...) is a failure whatever the vector says
            if res == "valid" or not sqlstate.startswith("22"):
                bad = True
            elif res == "invalid":
                counts["invalid_ok"] += 1
                note("%s tc %d (invalid, %s) raised instead of returning false: %s"
                     % (f, tc, t.get("comment", ""), outcome))
            else:
                counts["acc_rej"] += 1
                note("%s tc %d (acceptable) raised instead of returning false: %s" % (f, tc, outcome))
        elif res == "valid":
            if outcome == "accepted":
                counts["valid_ok"] += 1
            else:
                bad = True
        elif res == "invalid":
            if outcome == "rejected":
                counts["invalid_ok"] += 1
            else:
                bad = True
        else:
            counts["acc_acc" if outcome == "accepted" else "acc_rej"] += 1
        if bad:
            counts["fail"] += 1
            pf[1] += 1
            if counts["fail"] > 200:
                continue
            print("FAIL %s tc %d: expected %s, got %s (%s; flags %s)"
                  % (f, tc, res, outcome, t.get("comment", ""), ",".join(t.get("flags", []))))
    if len(notes) > 20:
        print("note: ... and %d more vectors raised an error instead of returning false" % (len(notes) - 20))
    for f in sorted(per_file):
        print("  %-45s %4d vectors, %d failures" % (f, per_file[f][0], per_file[f][1]))
    print("Wycheproof: %d vectors, %d valid accepted, %d invalid rejected, %d acceptable "
          "(%d accepted/%d rejected), %d crashes, %d failures%s"
          % (len(expected), counts["valid_ok"], counts["invalid_ok"], counts["acc_acc"] + counts["acc_rej"],
             counts["acc_acc"], counts["acc_rej"], crashes, counts["fail"],
             " (%d vectors raised an error instead of returning false)" % counts["errors"]
             if counts["errors"] else ""))
    return 0 if counts["fail"] == 0 and crashes == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print("Wycheproof: could not run: %s" % e)
        sys.exit(1)
