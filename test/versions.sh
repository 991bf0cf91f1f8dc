#!/usr/bin/env bash
# make build-versions: builds csm (no install, no tests) against the server
# headers of other PostgreSQL major versions, with the same -Werror flags,
# to keep src/compat.h honest.
#
# Debian 12 packages only PostgreSQL 15; Debian 13 (trixie) packages 17 and
# Debian unstable 18.  This script downloads, from Debian's own archive,
# postgresql-server-dev-N (the headers) and postgresql-client-N (PGXS) for
# each version in VERSIONS (default "17 18"), with a private apt
# configuration in a throwaway directory (the machine's apt sources, lists
# and packages are left alone), unpacks them with dpkg -x, and builds a copy
# of the working tree's tracked files against each.  Their pg_config needs
# a newer glibc than Debian 12's, so a small stand-in answers PGXS's
# questions from the unpacked tree; the flags are the packaged
# Makefile.global's, less those this machine's gcc does not know.  Nothing
# is run: a version built here is "builds", not "tested".
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
VERSIONS=${VERSIONS:-17 18}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial" "$work/root" "$work/debs"
cat > "$work/apt/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
EOF
apt_opts=(-o "Dir::Etc::sourcelist=$work/apt/sources.list" -o Dir::Etc::sourceparts=/nonexistent
    -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt" -o "Dir::Cache::archives=$work/apt/archives"
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" -qq update
failed=0
for v in $VERSIONS; do
    (cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "postgresql-server-dev-$v" "postgresql-client-$v") >/dev/null
    for d in "$work/debs"/postgresql-*-"$v"_*.deb; do dpkg -x "$d" "$work/root"; done
    r=$work/root
    pgc=$r/usr/lib/postgresql/$v/bin/pg_config.sh
    cat > "$pgc" <<EOF
#!/bin/sh
case "\$1" in
--version) echo "PostgreSQL $v (headers of Debian's postgresql-server-dev-$v)";;
--pgxs) echo $r/usr/lib/postgresql/$v/lib/pgxs/src/makefiles/pgxs.mk;;
--bindir) echo $r/usr/lib/postgresql/$v/bin;;
--libdir) echo $r/usr/lib/x86_64-linux-gnu;;
--pkglibdir) echo $r/usr/lib/postgresql/$v/lib;;
--includedir|--pkgincludedir) echo $r/usr/include/postgresql;;
--includedir-server) echo $r/usr/include/postgresql/$v/server;;
--sharedir) echo $r/usr/share/postgresql/$v;;
--docdir|--htmldir) echo $r/usr/share/doc/postgresql-doc-$v;;
--mandir) echo $r/usr/share/postgresql/$v/man;;
--localedir) echo $r/usr/share/locale;;
--sysconfdir) echo /etc/postgresql-common;;
*) echo "pg_config.sh: \$1 is not known" >&2; exit 1;;
esac
EOF
    chmod +x "$pgc"
    global=$r/usr/lib/postgresql/$v/lib/pgxs/src/Makefile.global
    # The packaged flags, less what gcc 12 does not know (gcc 14's -Wmissing-variable-declarations).
    cflags=$(sed -n 's/^CFLAGS = //p' "$global" | sed 's/-Wmissing-variable-declarations//')
    b=$work/build-$v
    mkdir -p "$b"
    git ls-files -z | (cd "$src" && xargs -0 tar -cf -) | tar -x -C "$b"
    if make -s -C "$b" -j2 with_llvm=no CC=gcc CFLAGS="$cflags" PG_CONFIG="$pgc" >"$b/build.log" 2>&1 && [ -f "$b/csm.so" ]; then
        echo "versions: PostgreSQL $v ($(dpkg-deb -f "$work/debs"/postgresql-server-dev-"$v"_*.deb Version)): builds, no warning"
    else
        grep -E ': (error|warning):' "$b/build.log" | sort -u | head -40
        echo "versions: PostgreSQL $v: does not build"
        failed=1
    fi
done
exit $failed
