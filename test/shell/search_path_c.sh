#!/usr/bin/env bash
# The C functions that test/pgtap/search_path.sql lets go without SET
# search_path (its c_runs_no_sql list) must not run SQL under the caller's
# path.  For each, every function of src/*.c it reaches (through calls by
# name) is read: one that calls SPI must also pin the path itself
# (csm_pin_search_path), and a symbol missing from src/*.c fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
symbols=$(sed -n '/INSERT INTO c_runs_no_sql VALUES/,/;$/p' test/pgtap/search_path.sql | grep -o "('csm_[a-z_0-9]*'" | tr -d "('")
[ -n "$symbols" ] || { echo "not ok - no allow-list found in test/pgtap/search_path.sql"; exit 1; }
perl -e '
    use strict;
    my (%body, %global);
    for my $file (glob "src/*.c") {
        open my $fh, "<", $file or die "$file: $!";
        my ($name, $text, $prev) = (undef, "", "");
        while (my $line = <$fh>) {
            if (!defined $name && $line =~ /^([A-Za-z_][A-Za-z_0-9]*)\s*\(/) {
                $name = $1;
                $text = "";
                $global{$name} = "$file:$name" unless $prev =~ /^static\b/;
            }
            if (defined $name) {
                $text .= $line;
                if ($line =~ /^}/) { $body{"$file:$name"} = $text; undef $name; }
            }
            $prev = $line;
        }
    }
    my $failed = 0;
    for my $symbol (@ARGV) {
        if (!exists $global{$symbol}) { print "not ok - $symbol is not defined in src/*.c\n"; $failed = 1; next; }
        my %seen = ($global{$symbol} => 1);
        my @todo = ($global{$symbol});
        my @bad;
        while (my $f = shift @todo) {
            my $text = $body{$f};
            my ($file) = split /:/, $f;
            push @bad, $f if $text =~ /\bSPI_(connect|execute|exec|prepare|cursor_open)/ && $text !~ /\bcsm_pin_search_path\s*\(/;
            while ($text =~ /\b([A-Za-z_][A-Za-z_0-9]*)\s*\(/g) {
                my $callee = exists $body{"$file:$1"} ? "$file:$1" : $global{$1};
                next if !defined $callee || $seen{$callee};
                $seen{$callee} = 1;
                push @todo, $callee;
            }
        }
        if (@bad) { print "not ok - $symbol reaches SPI with the caller\x27s search_path in: @bad\n"; $failed = 1; }
        else { print "ok - $symbol runs no SQL under the caller\x27s search_path\n"; }
    }
    exit $failed;
' $symbols
