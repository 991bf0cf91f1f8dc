#!/usr/bin/env bash
# The release's metadata agrees with itself, and make dist's zip is the
# committed tree and builds.
#   META.json: valid JSON with the keys PGXN requires (name, abstract,
#     version, maintainer, license, provides, meta-spec) and the ones csm
#     promises (prereqs on PostgreSQL 15, resources, tags); its version is
#     the Makefile's DISTVERSION and debian/changelog's upstream version;
#     provides.csm.version is csm.control's default_version and the
#     Makefile's EXTVERSION; the files it names exist.
#   make dist: dist/csm-VERSION.zip holds exactly the files of HEAD under
#     csm-VERSION/, and builds with PGXS (no install) into csm.so and the
#     install script.
# Outside a git checkout (a tree unpacked from the zip) only the metadata is checked.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "dist: $*" >&2; exit 1; }

make_var() { sed -n "s/^$1 *= *//p" Makefile | head -1; }
dist=$(make_var DISTVERSION)
ext=$(make_var EXTVERSION)
control=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" csm.control)
changelog=$(sed -n '1s/^csm (\([^)]*\)).*/\1/p' debian/changelog)
[ -n "$dist" ] && [ -n "$ext" ] || fail "DISTVERSION or EXTVERSION missing from the Makefile"

python3 - "$dist" "$ext" "$control" "${changelog%-*}" <<'PY'
import json, os, re, sys
dist, ext, control, changelog = sys.argv[1:]
m = json.load(open("META.json"))
def fail(msg):
    sys.exit("dist: META.json: " + msg)
for key in ("name", "abstract", "version", "maintainer", "license", "provides",
            "meta-spec", "prereqs", "resources", "tags"):
    if key not in m:
        fail("no %r" % key)
semver = re.compile(r"^\d+\.\d+\.\d+$")
if m["name"] != "csm":
    fail("name is %r" % m["name"])
if not semver.match(m["version"]):
    fail("version %r is not semantic" % m["version"])
if m["version"] != dist:
    fail("version %s, the Makefile's DISTVERSION %s" % (m["version"], dist))
if changelog != dist:
    fail("version %s, debian/changelog's %s" % (dist, changelog))
if m["meta-spec"].get("version") != "1.0.0":
    fail("meta-spec version is not 1.0.0")
if m.get("release_status", "stable") not in ("stable", "testing", "unstable"):
    fail("release_status %r" % m["release_status"])
p = m["provides"].get("csm") or fail("provides no csm")
if p.get("version") != ext or ext != control:
    fail("provides csm %s, EXTVERSION %s, csm.control %s" % (p.get("version"), ext, control))
for key in ("file", "docfile"):
    if key in p and not os.path.exists(p[key]):
        fail("provides csm %s %s does not exist" % (key, p[key]))
if m["prereqs"]["runtime"]["requires"].get("PostgreSQL") != "15.0.0":
    fail("runtime does not require PostgreSQL 15.0.0")
if not (isinstance(m["tags"], list) and m["tags"] and all(isinstance(t, str) and t for t in m["tags"])):
    fail("tags must be a list of strings")
if not m["resources"]:
    fail("resources is empty")
print("dist: META.json %s (csm %s) agrees with the Makefile, csm.control and debian/changelog" % (dist, ext))
PY

if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
    echo "dist: not a git checkout, make dist not checked"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s dist >/dev/null
zip=dist/csm-$dist.zip
[ -f "$zip" ] || fail "make dist made no $zip"
python3 - "$zip" "csm-$dist/" > "$tmp/zip.txt" <<'PY'
import sys, zipfile
for n in zipfile.ZipFile(sys.argv[1]).namelist():
    if not n.endswith("/"):
        print(n[len(sys.argv[2]):] if n.startswith(sys.argv[2]) else "OUTSIDE " + n)
PY
git ls-tree -r --name-only HEAD > "$tmp/head.txt"
diff <(sort "$tmp/zip.txt") <(sort "$tmp/head.txt") || fail "$zip does not hold exactly HEAD's files under csm-$dist/"
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$zip" "$tmp"
make -s -C "$tmp/csm-$dist" >/dev/null 2>"$tmp/build.err" || { cat "$tmp/build.err"; fail "the zip does not build"; }
[ -f "$tmp/csm-$dist/csm.so" ] && [ -f "$tmp/csm-$dist/csm--$ext.sql" ] || fail "the zip's build made no csm.so or csm--$ext.sql"
echo "dist: $zip holds HEAD's $(wc -l < "$tmp/head.txt") files and builds"
