# plot.gp - bar charts of an ipc-bench CSV (`make bench-plot`).
#
#   gnuplot -e "csv='bench.csv'; md='bench.md'; out='DIR'" plot.gp
#
# md (optional) is the run's Markdown output: its placement, machine and
# load lines become the charts' subtitle.
# Writes DIR/latency.png (round trip: median and 99th percentile) and
# DIR/throughput.png (one way: median and the slowest 1% of ~1 MiB blocks),
# both on a log scale: the mechanisms differ by orders of magnitude.
# The CSV's columns: mechanism,metric,size_bytes,count,median,p99,unit.

if (!exists("csv")) csv = "bench.csv"
if (!exists("out")) out = "."
subtitle = !exists("md") ? "" : system(sprintf( \
    "sed -n 's/^- placement: /placement /p; s/^- machine: //p; s/^- load average: \\([^ ]*\\).*/load average \\1 at start/p' '%s' | paste -sd';' | sed 's/;/; /g'", md))

set datafile separator ","
set terminal pngcairo size 1200,620 font "DejaVu Sans,11"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics mytics lc rgb "#dddddd"
set xtics rotate by -40 left nomirror
set key top left
set border 3
set ytics nomirror
set bmargin 7

# One metric's rows, in the CSV's order (gnuplot reads them through a pipe).
rows(metric) = sprintf("< awk -F, '$2 == \"%s\"' '%s'", metric, csv)
# "x86_64" must not print as x86 with a subscript 6: escape every '_'.
escaped(s) = strstrt(s, "_") ? s[1:strstrt(s, "_") - 1] . "\\_" . escaped(s[strstrt(s, "_") + 1:]) : s
# Two bars per mechanism: the first is centred 1/6 left of the tick.
first_bar(x) = x - 1.0 / 6
label(value) = value >= 100 ? sprintf("%.0f", value) : sprintf("%.3g", value)
subtitle = escaped(subtitle)

set output out . "/latency.png"
set title "Round trip between two processes (lower is better)\n{/*0.8 " . subtitle . "}"
set ylabel "microseconds (log scale)"
# Log-scale bars need a floor: the decade below the smallest value.
stats rows("latency") using 5 nooutput
set yrange [10 ** floor(log10(STATS_min)):*]
plot rows("latency") using 5:xtic(1) title "median" lc rgb "#3b75af", \
     ''              using 6        title "99th percentile" lc rgb "#a6c5e3", \
     ''              using (first_bar($0)):5:(label($5)) with labels offset 0,0.6 font ",8" notitle

set output out . "/throughput.png"
set title "One-way throughput (higher is better)\n{/*0.8 " . subtitle . "}"
set ylabel "MiB/s (log scale)"
stats rows("throughput") using 6 nooutput
set yrange [10 ** floor(log10(STATS_min)):*]
plot rows("throughput") using 5:xtic(1) title "median" lc rgb "#c4632b", \
     ''                 using 6        title "slowest 1% of blocks" lc rgb "#f0b48a", \
     ''                 using (first_bar($0)):5:(label($5)) with labels offset 0,0.6 font ",8" notitle
