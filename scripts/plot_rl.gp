# plot_rl.gp — the RL runs of a `warm demo` setup (rl_<setup>/curves.csv) as the paper's Figures 8 and 9:
# control (gold) reward on held-out prompts against KL to the SFT policy, one curve per proxy reward model, and
# the win rate of WARM M=big (the first run) against each other run's policy at the same step, by gold.
#
#   gnuplot -c scripts/plot_rl.gp CURVES.csv OUTBASE
#
# Writes OUTBASE.svg and OUTBASE.png. CSV columns (written by warm demo from the rl-eval JSON files):
# run,step,kl,gold,gold_se,winrate_vs_ref — step 0 is the SFT policy; winrate_vs_ref is the run's policy against
# the first run's at the same step (0.5 for the first run itself); each run's rows are contiguous.

if (ARGC < 2) {
    print "usage: gnuplot -c plot_rl.gp CURVES.csv OUTBASE"
    exit status 2
}
csv = ARG1
out = ARG2

set encoding utf8
set datafile separator ","
names = system(sprintf("awk -F, 'NR > 1 && !seen[$1]++ { printf \"%%s \", $1 }' '%s'", csv))
ref = word(names, 1)
sel(name, c) = (strcol(1) eq name) ? column(c) : NaN

set grid
set linetype 9 lc rgb "#8b4513" dt 2
set linetype 10 lc rgb "#2f4f4f" dt 2
set linetype 11 lc rgb "#ff1493" dt 2
set linetype 12 lc rgb "#808000" dt 2
set key below horizontal noenhanced
do for [fmt in "svg png"] {
    if (fmt eq "svg") { set terminal svg size 900,420 dynamic } else { set terminal pngcairo size 900,420 }
    set output sprintf("%s.%s", out, fmt)
    set multiplot layout 1,2
    set title "control (gold) reward on held-out prompts"
    set xlabel "KL(policy || SFT)  (nats per response)"
    set ylabel "mean gold reward"
    plot for [i = 1:words(names)] csv using (sel(word(names, i), 3)):(sel(word(names, i), 4)) skip 1 \
         with linespoints lw 2 pt 7 ps 0.5 title word(names, i)
    set title sprintf("win rate of %s (gold), same step", ref)
    set xlabel "RL step"
    set ylabel "win rate, ties 1/2"
    set yrange [0:1]
    plot for [i = 2:words(names)] csv using (sel(word(names, i), 2)):(1 - sel(word(names, i), 6)) skip 1 \
         with linespoints lw 2 pt 7 ps 0.5 title sprintf("vs %s", word(names, i)), 0.5 with lines lc rgb "gray" dt 3 notitle
    set autoscale y
    unset multiplot
    set output
}
