#!/usr/bin/env python3
"""NIST PKITS 1.0.1 through mobisign's SQL API.

For each of the 247 cases of ../shared/testdata/pkits/cases.json: one PKI per
case (mobisign_add_pki with the case's trust anchor, revocation 'crl' and its
policy inputs), the case's CRLs (mobisign_add_crl), then
mobisign_validate_certificate(end entity, intermediates, pki, at) at a fixed
time, and `valid` is compared with should_validate.

Policy inputs: initial_policy_set names map to OIDs (NIST-test-policy-N is
2.16.840.1.101.3.2.1.48.N, anyPolicy is 2.5.29.32.0); initial_explicit_policy
-> explicit_policy, initial_policy_mapping_inhibit -> inhibit_policy_mapping,
initial_inhibit_any_policy -> inhibit_any_policy. Cases without inputs use
{anyPolicy} and all flags false (initial_policies NULL).

Every PKI is created with security_level 0. PKITS' keys are 1024-bit DSA and
RSA, which level 2 (the default) rightly refuses; level 1 still refuses the
SHA-1 signatures of PKITS' DSA certificates (OpenSSL 3 rates SHA-1 below 80
bits: 4.1.4 fails with "CA signature digest algorithm too weak"). PKITS tests
path-validation logic, not algorithm strength, so level 0 it is; the
regression tests check that the default level refuses weak keys and SHA-1.

Every case runs under both PKI profiles (docs/verification.md, "Profiles"),
each in a database of its own: 'compatible' (OpenSSL's path validation
alone) must give PKITS' answer everywhere; 'strict' too, except for the
valid paths listed in STRICT_REFUSALS, which it must refuse with status 425
and exactly the listed rule. PKITS tests path validation (RFC 5280 section
6), not what a conforming CA issues (section 4): those PKITS CAs break a MUST
of section 4 that section 6 does not check, and the strict profile checks.
MOBISIGN_PKITS_PROFILES=strict (or compatible) runs one profile only.

Each case is validated three times: once with the path memo off
(mobisign.path_memo_entries = 0), then twice with it on; the three whole
result rows (evidence included) must be identical, and every valid path's
repetition must have been answered by the memo (extension/path_memo.h).

Exit status: 0 when every case gives the expected answer (listed deviations
aside) under every profile run, 1 otherwise. Summary lines, one per profile,
then the last, which test/run.sh reports:
    PKITS compatible: N passed, N failed, N deviations (of 247)
    PKITS strict: N passed (N of them refused by a listed strict rule), N failed, N deviations (of 247)
    PKITS: compatible 247/247, strict 247/247 (N valid paths refused by a listed strict rule), N failed
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import extlib  # noqa: E402

DATA = os.path.join(extlib.SHARED, "testdata", "pkits")
DB = os.environ.get("MOBISIGN_PKITS_DB", "mobisign_pkits")
AT = "2020-01-01 00:00:00+00"
SECURITY_LEVEL = 0

# Known deviations: "test-id/name" -> reason. A deviation must name why the
# answer differs and why that is acceptable. The target is none.
DEVIATIONS = {
}

# Valid PKITS paths that the strict profile refuses on purpose: "test-id/name"
# -> the words of the rule (extension/strict_profile.h) its reason must name.
# The target is exactly PKITS' CAs that break RFC 5280 section 4 (checked: no
# other valid case may be refused, and each of these must be, by this rule).
PC_NOT_CRITICAL = "the policyConstraints extension is not critical"
STRICT_REFUSALS = {
    # basicConstraintsNotCriticalCACert: a CA whose basicConstraints is not
    # critical (4.2.1.9: conforming CAs MUST mark it critical)
    "4.6.4/ValidbasicConstraintsNotCriticalTest4": "a CA certificate's basicConstraints is missing or not critical",
}
# A non-critical policyConstraints (4.2.1.11: conforming CAs MUST mark it
# critical) in these CAs: PoliciesP1234CACert, PoliciesP12CACert,
# anyPolicyCACert, PoliciesP123CACert, Mapping1to2CACert, P12Mapping1to3CACert,
# P1Mapping1to234CACert, PanyPolicyMapping1to2CACert,
# GoodsubCAPanyPolicyMapping1to2CACert, P1anyPolicyMapping1to2CACert,
# inhibitAnyPolicy0CACert, inhibitAnyPolicy1CACert.
for _k in ("4.8.6/OverlappingPoliciesTest6Subpart1", "4.8.6/OverlappingPoliciesTest6Subpart2",
           "4.8.10/AllCertificatesSamePoliciesTest10Subpart1",
           "4.8.10/AllCertificatesSamePoliciesTest10Subpart2",
           "4.8.10/AllCertificatesSamePoliciesTest10Subpart3",
           "4.8.11/AllCertificatesAnyPolicyTest11Subpart1", "4.8.11/AllCertificatesAnyPolicyTest11Subpart2",
           "4.8.13/AllCertificatesSamePoliciesTest13Subpart1",
           "4.8.13/AllCertificatesSamePoliciesTest13Subpart2",
           "4.8.13/AllCertificatesSamePoliciesTest13Subpart3",
           "4.8.14/AnyPolicyTest14Subpart1",
           "4.8.18/UserNoticeQualifierTest18Subpart1", "4.8.18/UserNoticeQualifierTest18Subpart2",
           "4.10.1.1/ValidPolicyMappingTest1Subpart1", "4.10.3/ValidPolicyMappingTest3Subpart2",
           "4.10.5/ValidPolicyMappingTest5Subpart1", "4.10.6/ValidPolicyMappingTest6Subpart1",
           "4.10.9/ValidPolicyMappingTest9", "4.10.11/ValidPolicyMappingTest11",
           "4.10.12/ValidPolicyMappingTest12Subpart1", "4.10.12/ValidPolicyMappingTest12Subpart2",
           "4.10.13/ValidPolicyMappingTest13Subpart1", "4.10.13/ValidPolicyMappingTest13Subpart2",
           "4.10.14/ValidPolicyMappingTest14",
           "4.12.2/ValidinhibitAnyPolicyTest2", "4.12.3/inhibitAnyPolicyTest3Subpart1",
           "4.12.7/ValidSelfIssuedinhibitAnyPolicyTest7", "4.12.9/ValidSelfIssuedinhibitAnyPolicyTest9"):
    STRICT_REFUSALS[_k] = PC_NOT_CRITICAL

# Valid paths the path memo does not keep (extension/path_memo.h), and why.
MEMO_NOT_KEPT = {
    "4.1.5/ValidDSAParameterInheritanceTest5":
        "its path inherits DSA parameters: validate.c validates per-call copies of those certificates",
}

PROFILES = tuple(p for p in os.environ.get("MOBISIGN_PKITS_PROFILES", "compatible,strict").split(",") if p)

ANY_POLICY = "2.5.29.32.0"


def policy_oid(name):
    if name == "anyPolicy":
        return ANY_POLICY
    prefix = "NIST-test-policy-"
    if name.startswith(prefix):
        return "2.16.840.1.101.3.2.1.48." + name[len(prefix):]
    raise ValueError("unknown policy name %r" % name)


def case_key(c):
    return "%s/%s" % (c["test"], c["name"])


# Per-case driver: every step's error is caught and reported, so one case's
# failure never stops the others. Runs in the same session as the data.
DRIVER = r"""
CREATE TEMP TABLE pk_file (name text PRIMARY KEY, data bytea NOT NULL);

CREATE FUNCTION pg_temp.pkits_case(pki text, anchor text, inters text[], ee text, crls text[],
                                   policies text[], explicit boolean, inhibit_map boolean,
                                   inhibit_any boolean, at timestamptz, profile text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    notes text[] := '{}';
    c text;
    memo text;
    plain jsonb;
    again jsonb;
    hits0 bigint;
BEGIN
    BEGIN
        PERFORM mobisign_add_pki(name => pki,
            trust_anchors => ARRAY[(SELECT f.data FROM pk_file f WHERE f.name = anchor)],
            revocation => 'crl', initial_policies => policies, explicit_policy => explicit,
            inhibit_policy_mapping => inhibit_map, inhibit_any_policy => inhibit_any,
            security_level => %(level)s, profile => profile);
    EXCEPTION WHEN OTHERS THEN
        RETURN jsonb_build_object('error', format('mobisign_add_pki: %%s %%s', SQLSTATE, SQLERRM));
    END;
    FOREACH c IN ARRAY crls LOOP
        BEGIN
            PERFORM mobisign_add_crl(pki, (SELECT f.data FROM pk_file f WHERE f.name = c));
        EXCEPTION WHEN OTHERS THEN
            notes := notes || format('mobisign_add_crl(%%s): %%s %%s', c, SQLSTATE, SQLERRM);
        END;
    END LOOP;
    BEGIN
        -- first without the path memo (extension/path_memo.h), then twice
        -- with it (the second call may be answered by it): the three
        -- results, evidence included, must be identical
        memo := current_setting('mobisign.path_memo_entries');
        PERFORM set_config('mobisign.path_memo_entries', '0', true);
        plain := pg_temp.pkits_validate(ee, inters, pki, at);
        PERFORM set_config('mobisign.path_memo_entries', memo, true);
        hits0 := (SELECT path_memo_hits FROM mobisign_verify_cache_stats());
        FOR i IN 1 .. 2 LOOP
            again := pg_temp.pkits_validate(ee, inters, pki, at);
            IF again IS DISTINCT FROM plain THEN
                RETURN jsonb_build_object('error', format('the path memo changed the result: %%s, without it %%s',
                                                          again, plain));
            END IF;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        RETURN jsonb_build_object('error', format('mobisign_validate_certificate: %%s %%s', SQLSTATE, SQLERRM),
                                  'notes', notes);
    END;
    RETURN jsonb_build_object('valid', plain->'valid', 'status_code', plain->'status_code',
                              'status_name', plain->'status_name', 'reason', plain->'reason',
                              'policies', plain->'policies', 'notes', notes,
                              'memo_hits', (SELECT path_memo_hits FROM mobisign_verify_cache_stats()) - hits0);
END
$$;

-- one validation of the case's end entity, the whole result row
CREATE FUNCTION pg_temp.pkits_validate(ee text, inters text[], pki text, at timestamptz)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT to_jsonb(v) FROM mobisign_validate_certificate(
               (SELECT f.data FROM pk_file f WHERE f.name = ee),
               (SELECT coalesce(array_agg(f.data ORDER BY i.n), '{}')
                  FROM unnest(inters) WITH ORDINALITY AS i(name, n)
                  JOIN pk_file f ON f.name = i.name),
               pki, at) v
$$;
""" % {"level": SECURITY_LEVEL}


def main():
    with open(os.path.join(DATA, "cases.json")) as fh:
        cases = json.load(fh)["cases"]

    files = set()
    for c in cases:
        files.add(("certs", c["trust_anchor"]))
        files.add(("certs", c["end_entity"]))
        files.update(("certs", i) for i in c["intermediates"])
        files.update(("crls", i) for i in c["crls"])

    sql = [DRIVER]
    for sub, name in sorted(files):
        with open(os.path.join(DATA, sub, name), "rb") as fh:
            sql.append("INSERT INTO pk_file VALUES (%s, %s);" % (extlib.sql_text(name), extlib.sql_bytea(fh.read())))

    per_case = []
    for idx, c in enumerate(cases):
        policies = None
        if "initial_policy_set" in c:
            policies = [policy_oid(p) for p in c["initial_policy_set"]]
        per_case.append(
            "SELECT %d || ' ' || pg_temp.pkits_case(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, @PROFILE@)::text;" % (
                idx, extlib.sql_text("pkits-%03d-%s" % (idx, c["test"])),
                extlib.sql_text(c["trust_anchor"]), extlib.sql_text_array(c["intermediates"]),
                extlib.sql_text(c["end_entity"]), extlib.sql_text_array(c["crls"]),
                extlib.sql_text_array(policies),
                "true" if c.get("initial_explicit_policy") else "false",
                "true" if c.get("initial_policy_mapping_inhibit") else "false",
                "true" if c.get("initial_inhibit_any_policy") else "false",
                extlib.sql_text(AT)))

    print("PKITS 1.0.1: %d cases from %s, validated at %s, security_level %d "
          "(PKITS uses 1024-bit DSA/RSA keys and SHA-1-signed DSA certificates), profiles %s"
          % (len(cases), DATA, AT, SECURITY_LEVEL, ", ".join(PROFILES)))
    stale = sorted(set(STRICT_REFUSALS) - set(case_key(c) for c in cases))
    if stale:
        raise RuntimeError("STRICT_REFUSALS names cases PKITS does not have: %s" % ", ".join(stale))
    totals = {}
    for profile in PROFILES:
        db = "%s_%s" % (DB, profile)
        extlib.fresh_database(db)
        out = extlib.psql("\n".join(sql + [q.replace("@PROFILE@", extlib.sql_text(profile)) for q in per_case]) + "\n", db)
        totals[profile] = evaluate(cases, out, profile)
    failed = sum(t[1] for t in totals.values())
    refused = totals.get("strict", (0, 0, 0, 0))[3]
    print("PKITS: %s, %d failed" % (", ".join(
        "%s %d/%d%s" % (p, t[0], len(cases),
                        " (%d valid paths refused by a listed strict rule)" % t[3] if p == "strict" else "")
        for p, t in totals.items()), failed))
    return 0 if failed == 0 else 1


def evaluate(cases, out, profile):
    """Compare one profile's results with PKITS; (passed, failed, deviations, strict refusals)."""
    strict = profile == "strict"
    results = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        idx, js = line.split(" ", 1)
        results[int(idx)] = json.loads(js)

    # user_constrained_policy_set, where PKITS names one for a valid path:
    # the policies mobisign reports must be exactly that set (anyPolicy
    # stands for "any": not compared).
    def policy_mismatch(c, r):
        want = [p for p in c.get("user_constrained_policy_set", []) if p]
        if not c["should_validate"] or not want or "anyPolicy" in want or r is None or not r.get("valid"):
            return None
        want_oids = sorted(policy_oid(p) for p in want)
        got = sorted(r.get("policies") or [])
        if got != want_oids:
            return "policies %s, PKITS expects %s" % (got, want_oids)
        return None

    passed = failed = deviations = refused = 0
    # the memo keeps valid paths only: the repeated validation of each
    # valid path must have been answered by it at least once
    memo_valid = memo_missed = 0
    for idx, r in sorted(results.items()):
        if r.get("valid") is True:
            memo_valid += 1
            if (r.get("memo_hits") or 0) == 0 and case_key(cases[idx]) not in MEMO_NOT_KEPT:
                memo_missed += 1
                print("FAIL     %-9s %s (%s): valid, but its repetition was not answered by the path memo"
                      % (cases[idx]["test"], cases[idx]["name"], profile))
    failed += memo_missed
    for idx, c in enumerate(cases):
        key = case_key(c)
        r = results.get(idx)
        want = bool(c["should_validate"])
        got = None if r is None or "error" in r else bool(r.get("valid"))
        ok = got is not None and got == want
        if strict and key in STRICT_REFUSALS:
            # a valid PKITS path the strict profile refuses on purpose: by its rule, with 425
            want = False
            ok = (got is False and r.get("status_code") == 425 and
                  (r.get("reason") or "").startswith(STRICT_REFUSALS[key] + " (RFC 5280"))
            refused += 1 if ok else 0
        pm = policy_mismatch(c, r) if want else None
        if ok and pm:
            ok = False
            r = dict(r, notes=(r.get("notes") or []) + [pm])
        if r is None:
            detail = "no result"
        elif "error" in r:
            detail = "ERROR " + r["error"]
        else:
            detail = "%s %s: %s" % (r.get("status_code"), r.get("status_name"), r.get("reason"))
        if r and r.get("notes"):
            detail += " [" + "; ".join(r["notes"]) + "]"
        if key in DEVIATIONS:
            if ok:
                failed += 1
                print("FIXED    %-9s %s: listed as a deviation but now passes; remove it from DEVIATIONS"
                      % (c["test"], c["name"]))
            else:
                deviations += 1
                print("DEVIATION %-8s %s: expected %s, got %s (%s) -- %s"
                      % (c["test"], c["name"], want, got, detail, DEVIATIONS[key]))
        elif ok:
            passed += 1
            if os.environ.get("PKITS_VERBOSE"):
                print("ok       %-9s %s: %s" % (c["test"], c["name"], detail))
        else:
            failed += 1
            print("FAIL     %-9s %s (%s): expected valid=%s%s, got %s -- %s"
                  % (c["test"], c["name"], profile, want,
                     " by \"%s\"" % STRICT_REFUSALS[key] if strict and key in STRICT_REFUSALS else "",
                     got, detail))

    print("PKITS %s: %d passed%s, %d failed, %d deviations (of %d); path memo on = off for every case, "
          "%d valid paths answered by it"
          % (profile, passed, " (%d of them refused by a listed strict rule)" % refused if strict else "",
             failed, deviations, len(cases), memo_valid - memo_missed - sum(
                 1 for i, r in results.items() if r.get("valid") is True and case_key(cases[i]) in MEMO_NOT_KEPT)))
    return passed, failed, deviations, refused


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print("PKITS: could not run: %s" % e)
        sys.exit(1)
