#!/bin/sh
# mpi_bench.sh [PLAIN_BUILD [MPI_BUILD]] — 1 vs 2 ranks (docs/scale.md §6): a sweep of 2 members and one
# data-parallel member, preset S, 1,800 pre-tokenised pairs of the demo's lengths, 30 steps of 16 pairs.
# Prints wall and CPU seconds (/usr/bin/time; mpirun's ranks are its children) and the load average. Needs
# `make` and `make MPI=1`; as root it sets Open MPI's run-as-root variables.
set -eu
cd "$(dirname "$0")/.."
P=${1:-build/release}/warm
W=${2:-build/release-mpi}/warm
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
T=$(mktemp -d /tmp/warm-mpibench-XXXXXX)
trap 'rm -rf "$T"' EXIT
sh scripts/marker_pairs.sh 3 1800 200 8000 8191 40 51 3 30 > "$T/pairs.jsonl"
"$P" init --preset S --seed 1 -o "$T/init.safetensors" > /dev/null
RM="--init $T/init.safetensors --data $T/pairs.jsonl --subset train --lr 1e-4 --dropout 0.1 --batch 16 --steps 30
    --log-every 10"
t() { /usr/bin/time -f "%e s wall, %U + %S s CPU" -o "$T/time" "$@" > "$T/out" 2>&1; cat "$T/time"; }
echo "lscpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sweep, 2 members, --jobs 1:        $(t "$P" sweep --members 2 $RM --jobs 1 -o "$T/s1")"
echo "sweep, 2 members, mpirun -np 2:    $(t mpirun --oversubscribe -np 2 "$W" sweep --members 2 $RM -o "$T/s2")"
for i in 00 01; do cmp "$T/s1/member-$i/final.safetensors" "$T/s2/member-$i/final.safetensors"; done
echo "  (members byte-identical)"
echo "sweep, 2 members, --jobs 2:        $(t "$P" sweep --members 2 $RM --jobs 2 -o "$T/s3")"
echo "train-rm, 1 process:               $(t "$P" train-rm $RM --seed 1 -o "$T/r1")"
echo "train-rm, mpirun -np 2:            $(t mpirun --oversubscribe -np 2 "$W" train-rm $RM --seed 1 -o "$T/r2")"
grep waiting "$T/out"
echo "train-rm, mpirun -np 2 --no-overlap: $(t mpirun --oversubscribe -np 2 "$W" train-rm $RM --seed 1 --no-overlap -o "$T/r3")"
grep waiting "$T/out"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
