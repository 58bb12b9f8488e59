#!/usr/bin/perl
# Perl on mem_io: hashes, arrays, strings and regexes, printed deterministically
# so the output can be compared with a run on glibc's malloc.
use strict;
use warnings;

my %words;
for my $i (1 .. 60000) {
    my $key = sprintf("%x", ($i * 2654435761) % 4294967296);
    $words{$key} = [$i, "v" x ($i % 30)];
}
my @sorted = sort keys %words;
my $total = 0;
$total += length($words{$_}[1]) for @sorted;
my $digits = () = join("", @sorted) =~ /[0-9]/g;
delete @words{ grep { /^a/ } @sorted };
my $text = join(",", map { $_ * 3 } 1 .. 20000);
$text =~ s/(\d+)7,/<$1>,/g;
print "keys=", scalar(@sorted), " first=$sorted[0] last=$sorted[-1] total=$total digits=$digits\n";
print "left=", scalar(keys %words), " text=", length($text), "\n";
