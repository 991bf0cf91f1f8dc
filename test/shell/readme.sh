#!/usr/bin/env bash
# The README's SQL examples, run as a new user would: every ```sql block of
# README.md, verbatim and in order, in one psql session on a fresh database,
# stopping at the first error. A README that drifts from the code fails.
#
# Conventions in README.md:
# - A block fenced ```sql is run. Words after "sql" in the fence say why a
#   block cannot run in this single-node suite, and the block is skipped by
#   that name and reported: ```sql citus (needs a Citus cluster), ```sql upgrade (an ALTER EXTENSION UPDATE, run by test/shell/upgrade.sh). Any other
#   word fails this test, so nothing is skipped silently.
# - Expected output: comment lines "--  text" (two dashes, two spaces, then
#   the text) directly after the line that ends a statement are what that
#   statement prints under `psql -At` (columns joined by |, one line per
#   row), compared exactly. A comment with one space is just a comment.
# - The cron.schedule examples need pg_cron preloaded with
#   cron.database_name = csm_readme, the database this test uses (make test
#   starts its cluster so; see the Makefile).
# - Roles the README creates (CREATE ROLE name) are dropped before the run,
#   so the test can run again in the same cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
db=csm_readme
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# README.md -> one psql script, a line map, and the expected outputs.
perl - README.md "$work" <<'PERL'
use strict; use warnings;
my ($readme, $work) = @ARGV;
my %skip_ok = (citus => 'needs a Citus cluster', upgrade => 'needs a 0.1.0 database: test/shell/upgrade.sh runs it');
open my $in, '<', $readme or die "$readme: $!";
my @lines = <$in>;
close $in;
my (@script, @map);                       # psql script lines, README line of each
my ($blocks, $skipped, $checks) = (0, 0, 0);
my @skips;
sub emit { my ($text, $line) = @_; push @script, $text; push @map, $line; }
emit('\set ON_ERROR_STOP 1', 0);
my $i = 0;
while ($i < @lines) {
    my $l = $lines[$i];
    if ($l !~ /^```sql\b(.*)$/) { $i++; next; }
    my @tags = split ' ', $1;
    my $start = $i + 1;                   # README line number of the fence
    my @body;
    $i++;
    while ($i < @lines && $lines[$i] !~ /^```\s*$/) { push @body, [$lines[$i], $i + 1]; $i++; }
    die "README.md:$start: ```sql block is not closed\n" if $i >= @lines;
    $i++;
    if (@tags) {
        for my $t (@tags) {
            die "README.md:$start: unknown tag '$t' on a ```sql fence (known: " . join(', ', sort keys %skip_ok) . ")\n"
                unless $skip_ok{$t};
        }
        $skipped++;
        push @skips, "README.md:$start (" . join(', ', map { "$_: $skip_ok{$_}" } @tags) . ")";
        next;
    }
    $blocks++;
    # Split into statements: a statement ends on the line where a ; stands
    # outside quotes, dollar quotes and comments.  A psql meta-command
    # (a line starting with \) is a statement of its own.
    my @group;                            # [text, line] of the statement being read
    my ($quote, $dollar, $comment) = (0, undef, 0);
    my $j = 0;
    while ($j < @body) {
        my ($text, $line) = @{$body[$j]};
        chomp $text;
        if (!@group && $text =~ /^--  \S/) {
            die "README.md:$line: an expected output line with no statement before it\n";
        }
        push @group, [$text, $line];
        my $ends = 0;
        if (!$quote && !defined $dollar && !$comment && $text =~ /^\s*\\/) {
            $ends = 1;
        } else {
            my $k = 0;
            while ($k < length $text) {
                my $rest = substr($text, $k);
                if ($comment) {
                    if ($rest =~ /^\*\//) { $comment = 0; $k += 2; next; }
                } elsif ($quote) {
                    if ($rest =~ /^''/) { $k += 2; next; }
                    $quote = 0 if $rest =~ /^'/;
                } elsif (defined $dollar) {
                    if (substr($rest, 0, length $dollar) eq $dollar) { $k += length $dollar; undef $dollar; next; }
                } else {
                    last if $rest =~ /^--/;
                    if ($rest =~ /^\/\*/) { $comment = 1; $k += 2; next; }
                    if ($rest =~ /^'/) { $quote = 1; }
                    elsif ($rest =~ /^(\$[A-Za-z_]*\$)/) { $dollar = $1; $k += length $1; next; }
                    elsif ($rest =~ /^;/) { $ends = 1; }
                }
                $k++;
            }
        }
        $j++;
        next unless $ends;
        # Expected output directly after the statement's last line?
        my @expect;
        while ($j < @body && $body[$j][0] =~ /^--  (\S.*?)\s*$/) { push @expect, $1; $j++; }
        my $out = '/dev/null';
        if (@expect) {
            $checks++;
            $out = "$work/check_$checks.out";
            open my $e, '>', "$work/check_$checks.expected" or die $!;
            print $e join("\n", @expect), "\n";
            close $e;
            open my $w, '>', "$work/check_$checks.where" or die $!;
            print $w "README.md:$group[0][1]\n";
            close $w;
        }
        emit("\\o $out", $group[0][1]);
        emit($_->[0], $_->[1]) for @group;
        @group = ();
    }
    die "README.md:$group[0][1]: the ```sql block ends inside a statement\n"
        if grep { $_->[0] =~ /\S/ && $_->[0] !~ /^\s*--/ } @group;
    emit('\o /dev/null', $start);
}
open my $s, '>', "$work/readme.sql" or die $!;
print $s "$_\n" for @script;
close $s;
open my $m, '>', "$work/readme.map" or die $!;
print $m "$_\n" for @map;
close $m;
open my $c, '>', "$work/counts" or die $!;
print $c "$blocks $skipped $checks\n";
print $c "$_\n" for @skips;
close $c;
PERL

read -r blocks skipped checks < "$work/counts"
tail -n +2 "$work/counts" | sed 's/^/skipped: /'
[ "$blocks" -gt 0 ] || { echo "README.md has no \`\`\`sql block"; exit 1; }

# A fresh database, and no role left from an earlier run.
quiet() { PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
quiet "DROP DATABASE IF EXISTS $db WITH (FORCE)"
for role in $(grep -oiE '^\s*CREATE ROLE [a-z_][a-z0-9_]*' README.md | awk '{print $3}' | sort -u); do
    quiet "DROP ROLE IF EXISTS $role"
done
createdb "$db"

if ! psql -X -q -A -t -b -d "$db" -f "$work/readme.sql" >"$work/stdout" 2>"$work/stderr"; then
    cat "$work/stdout" "$work/stderr"
    line=$(grep -oE 'readme\.sql:[0-9]+' "$work/stderr" | head -1 | cut -d: -f2 || true)
    [ -n "$line" ] && echo "FAILED: README.md line $(sed -n "${line}p" "$work/readme.map") fails when run as written"
    grep -q 'schema "cron" does not exist\|pg_cron' "$work/stderr" &&
        echo "hint: the cron examples need pg_cron: -o shared_preload_libraries=pg_cron -o cron.database_name=$db"
    exit 1
fi

# The README scheduled jobs; the rest of the suite runs without them.
if [ "$(psql -qAtX -d "$db" -c "SELECT to_regclass('cron.job') IS NOT NULL")" = t ]; then
    psql -qAtX -v ON_ERROR_STOP=1 -d "$db" -c "SELECT count(cron.unschedule(jobid)) FROM cron.job" >/dev/null
fi

failed=0
for ((k = 1; k <= checks; k++)); do
    where=$(cat "$work/check_$k.where")
    if diff -u --label "$where (README)" --label "$where (psql -At)" \
            "$work/check_$k.expected" <(sed 's/[[:space:]]*$//' "$work/check_$k.out"); then
        echo "ok $k - $where"
    else
        failed=$((failed + 1))
    fi
done
echo "README.md: $blocks sql blocks run, $skipped skipped, $checks outputs checked, $failed differ"
[ "$failed" = 0 ]
