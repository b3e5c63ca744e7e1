# plot_bon.gp — a `warm bon` CSV as the paper's Figure 6 (left): expected control (gold) reward of the
# best-of-n pick against KL(BoN || SFT) = log n - (n-1)/n, one curve per selector, plus the proxy reward.
#
#   gnuplot -c scripts/plot_bon.gp BON.csv OUTBASE [BASELINE]
#
# Writes OUTBASE.svg and OUTBASE.png (two panels: control reward, proxy reward; with BASELINE, the name of a
# selector such as the best single member, a third panel: each selector's control reward minus BASELINE's at
# the same n, the paper's Figure 6 right). CSV columns (warm bon):
# selector,n,kl,proxy_mean,control_mean,winrate_vs_sft,winrate_vs_ref; each selector's rows are contiguous.

if (ARGC < 2) {
    print "usage: gnuplot -c plot_bon.gp BON.csv OUTBASE [BASELINE]"
    exit status 2
}
csv = ARG1
out = ARG2
base = (ARGC >= 3) ? ARG3 : ""

set encoding utf8
set datafile separator ","
# The selector names, in file order (column 1 of the data rows, header skipped).
names = system(sprintf("awk -F, 'NR > 1 && !seen[$1]++ { printf \"%%s \", $1 }' '%s'", csv))
sel(name, c) = (strcol(1) eq name) ? column(c) : NaN

set xlabel "KL(BoN || SFT) = log n - (n-1)/n  (nats)"
set grid
# More than 8 selectors: line types 9-12 get their own colours, dashed (the default cycle repeats 1-8).
set linetype 9 lc rgb "#8b4513" dt 2
set linetype 10 lc rgb "#2f4f4f" dt 2
set linetype 11 lc rgb "#ff1493" dt 2
set linetype 12 lc rgb "#808000" dt 2
set key below horizontal noenhanced
do for [fmt in "svg png"] {
    w = (base eq "") ? 900 : 1350
    if (fmt eq "svg") { set terminal svg size w,420 dynamic } else { set terminal pngcairo size w,420 }
    set output sprintf("%s.%s", out, fmt)
    set multiplot layout 1,((base eq "") ? 2 : 3)
    set title "control (gold) reward of the pick"
    set ylabel "expected gold reward"
    plot for [i = 1:words(names)] csv using (sel(word(names, i), 3)):(sel(word(names, i), 5)) skip 1 \
         with linespoints lw 2 pt 7 ps 0.5 title word(names, i)
    set title "proxy reward of the pick"
    set ylabel "expected proxy reward"
    plot for [i = 1:words(names)] csv using (sel(word(names, i), 3)):(sel(word(names, i), 4)) skip 1 \
         with linespoints lw 2 pt 7 ps 0.5 title word(names, i)
    if (base ne "") {
        # selector,kl,control - baseline's control at the same n
        gain = sprintf("< awk -F, -v B='%s' 'NR == FNR { if (FNR > 1 && $1 == B) b[$2] = $5; next } FNR > 1 && ($2 in b) { print $1 \",\" $3 \",\" ($5 - b[$2]) }' '%s' '%s'", base, csv, csv)
        set title sprintf("control reward gain over %s", base)
        set ylabel "gold reward minus the baseline's"
        plot for [i = 1:words(names)] gain using (sel(word(names, i), 2)):(sel(word(names, i), 3)) \
             with linespoints lw 2 pt 7 ps 0.5 title word(names, i)
    }
    unset multiplot
    set output
}
