#!/bin/sh
# Installs the Debian packages warm needs, with apt-get, only when one is missing.
#   build: compiler-side libraries for the library, CLI and tests (cJSON: JSON parsing; cmocka: unit tests)
#   fuzz:  clang-14 + libclang-rt-14-dev: libFuzzer and the sanitizer runtimes of the fuzz targets (make test's
#          smoke run, make fuzz)
#   bench: the PyTorch/numpy reference used by benchmarks and by `make fixtures`, and OpenBLAS for PyTorch
#          (python3-torch alone pulls in only the reference libblas3, 10-20x slower: no baseline)
#   plot:  gnuplot (no X) for the figures of `warm lmc --plot` (scripts/plot_lmc.gp; optional)
#   bpe:   what `make bpe-fixtures` needs to regenerate the GPT-2 tokenizer goldens and Unicode tables:
#          python3-regex (pre-tokens), unicode-data (the UCD files), node + npm (the npm reference encoders);
#          never needed by `make test`
#   mpi:   Open MPI (mpicc, mpirun) for the MPI build `make MPI=1` and its tests (docs/scale.md)
#   english: bible-kjv (the `bible` program and bible-kjv-text, the King James Bible): public-domain English text
#          for `make english` (scripts/english_corpus.sh, docs/english.md)
set -e
case "${1:-build}" in
  build) pkgs="libcjson-dev libcmocka-dev" ;;
  fuzz) pkgs="clang-14 libclang-rt-14-dev" ;;
  bench) pkgs="python3-torch python3-numpy libopenblas0-pthread" ;;
  plot) pkgs="gnuplot-nox" ;;
  bpe) pkgs="python3-regex unicode-data" ;;
  mpi) pkgs="openmpi-bin libopenmpi-dev" ;;
  english) pkgs="bible-kjv bible-kjv-text" ;;
  *) echo "install-deps.sh: unknown set '$1' (build|fuzz|bench|plot|bpe|mpi|english)" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# node and npm may come from another Debian archive (e.g. a nodejs package that bundles npm): any will do.
if [ "${1:-build}" = bpe ] && ! { command -v node && command -v npm; } >/dev/null; then missing="$missing nodejs npm"; fi
[ -z "$missing" ] && exit 0
echo "install-deps.sh: installing$missing"
if [ "$(id -u)" != 0 ]; then
  echo "install-deps.sh: need root to run apt-get; install:$missing" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
