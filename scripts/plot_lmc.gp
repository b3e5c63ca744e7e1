# plot_lmc.gp — one subset of a `warm lmc` CSV as the paper's Figures 3-4: accuracy of the weight average
# (WA), of the prediction ensemble (ENS) and the straight line between the endpoints (Diag) against λ.
#
#   gnuplot -c scripts/plot_lmc.gp LMC.csv SUBSET OUTBASE [RULE]
#
# Writes OUTBASE.svg and OUTBASE.png. RULE: ge (default: acc>=, ties count as correct, the paper's) or gt
# (acc>, strict; Diag is then not drawn, the CSV has diag_acc_ge only). `warm lmc --plot PREFIX` runs it
# once per subset. CSV columns: subset,lambda,wa_acc_ge,wa_acc_gt,ens_acc_ge,ens_acc_gt,diag_acc_ge.

if (ARGC < 3) {
    print "usage: gnuplot -c plot_lmc.gp LMC.csv SUBSET OUTBASE [ge|gt]"
    exit status 2
}
csv = ARG1
subset = ARG2
out = ARG3
rule = (ARGC >= 4) ? ARG4 : "ge"
wa = (rule eq "gt") ? 4 : 3
ens = (rule eq "gt") ? 6 : 5
rulename = (rule eq "gt") ? "acc> (strict)" : "acc>= (ties count as correct)"

set encoding utf8
set datafile separator ","
# Rows of other subsets evaluate to NaN and are not drawn (each subset's rows are contiguous).
sel(c) = (strcol(1) eq subset) ? column(c) : NaN

set title sprintf("%s: WA vs ENS vs Diag", subset) noenhanced
set xlabel "λ (0: A, 1: B)"
set ylabel sprintf("accuracy, %s", rulename) noenhanced
set xrange [0:1]
set xtics 0.2
set grid
set key below horizontal
set style line 1 lc rgb "#c0392b" lw 2 pt 7 ps 0.6
set style line 2 lc rgb "#2c6fbb" lw 2 dt 2 pt 5 ps 0.6
set style line 3 lc rgb "#555555" lw 1.5 dt 3

plot_all = (rule eq "gt") ? 0 : 1
do for [fmt in "svg png"] {
    if (fmt eq "svg") {
        set terminal svg size 640,480 dynamic font "sans,12"
    } else {
        if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
            set terminal pngcairo size 640,480 font "sans,11"
        } else {
            set terminal png size 640,480
        }
    }
    set output out . "." . fmt
    if (plot_all) {
        plot csv skip 1 using 2:(sel(wa)) with linespoints ls 1 title "WA", \
             csv skip 1 using 2:(sel(ens)) with linespoints ls 2 title "ENS", \
             csv skip 1 using 2:(sel(7)) with lines ls 3 title "Diag"
    } else {
        plot csv skip 1 using 2:(sel(wa)) with linespoints ls 1 title "WA", \
             csv skip 1 using 2:(sel(ens)) with linespoints ls 2 title "ENS"
    }
    set output
}
