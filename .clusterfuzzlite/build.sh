#!/bin/bash -eu
# Builds every fuzz target of fuzz/CMakeLists.txt (IPCH_FUZZ_TARGETS) the way
# ClusterFuzzLite and OSS-Fuzz want them, into $OUT:
#   $OUT/TARGET                  the executable, linked with $LIB_FUZZING_ENGINE
#   $OUT/TARGET_seed_corpus.zip  corpus/TARGET/ and corpus/regressions/TARGET/
#   $OUT/TARGET.dict             fuzz/TARGET.dict, if there is one
#   $OUT/TARGET.options          fuzz/TARGET.options (its "dict = TARGET.dict"
#                                names the dictionary beside it in $OUT)
#
# In the builder image the environment says everything: SRC, CC, CFLAGS
# (sanitizer, coverage and -fsanitize=fuzzer-no-link), LIB_FUZZING_ENGINE
# (-fsanitize=fuzzer, or an engine's library), OUT and WORK. Run from a
# clone with none of them set, it builds with clang, ASan + UBSan and
# libFuzzer under build/cflite/ (docs/ci.md). Any of them set is honoured.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The repository: $SRC/ipc-harness in the image (this script is copied to
# $SRC), else $SRC itself, else the clone this script lives in.
find_repo() {
  local candidate
  for candidate in ${SRC:+"$SRC/ipc-harness" "$SRC"} "$here/.."; do
    if [[ -f "$candidate/fuzz/CMakeLists.txt" ]]; then
      (cd "$candidate" && pwd)
      return 0
    fi
  done
  echo "build.sh: cannot find the repository (fuzz/CMakeLists.txt) under" \
       "${SRC:-$here/..}: set SRC to the checkout" >&2
  return 1
}

repo=$(find_repo)
SRC=${SRC:-$repo}
CC=${CC:-clang}
CFLAGS=${CFLAGS:--O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fsanitize=fuzzer-no-link}
LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}
OUT=${OUT:-$repo/build/cflite/out}
WORK=${WORK:-$repo/build/cflite/work}
jobs=${IPCH_JOBS:-$(nproc)}
build=$WORK/build

run() {
  echo "+ $*" >&2
  "$@"
}

# The build type "None" adds no flags of its own: $CFLAGS are all there is.
# --fresh: a cache of another compiler or engine is never half reused (CMake
# drops every -D when it finds the compiler changed); objects whose flags
# are the same are not rebuilt.
configure() {
  run cmake --fresh -S "$repo" -B "$build" \
    -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_C_FLAGS="$CFLAGS" \
    -DIPCH_FUZZ_ENGINE=external \
    -DIPCH_LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE"
}

# The files of a target's seed corpus, one a line: its committed corpus and
# its regression inputs, without dotfiles or READMEs.
seed_files() {
  local dir
  for dir in "$repo/corpus/$1" "$repo/corpus/regressions/$1"; do
    [[ -d "$dir" ]] || continue
    find "$dir" -maxdepth 1 -type f ! -name '.*' ! -name 'README*' | sort
  done
}

# zip(1) where it is installed (the builder image), else Python's zipfile.
# Both store the files flat, and both refuse two files of one name.
make_zip() {
  local zip=$1
  shift
  rm -f "$zip"
  if command -v zip >/dev/null; then
    zip -q -j -X "$zip" "$@"
  else
    python3 - "$zip" "$@" <<'EOF'
import os
import sys
import zipfile

names = [os.path.basename(f) for f in sys.argv[2:]]
if len(set(names)) != len(names):
    sys.exit(f"build.sh: two seed files of one name for {sys.argv[1]}")
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for f in sys.argv[2:]:
        z.write(f, os.path.basename(f))
EOF
  fi
}

install_target() {
  local target=$1 seeds
  run cp "$build/fuzz/fuzz-$target" "$OUT/$target"
  mapfile -t seeds < <(seed_files "$target")
  if ((${#seeds[@]} > 0)); then
    make_zip "$OUT/${target}_seed_corpus.zip" "${seeds[@]}"
  fi
  if [[ -f "$repo/fuzz/$target.dict" ]]; then
    cp "$repo/fuzz/$target.dict" "$OUT/"
  fi
  if [[ -f "$repo/fuzz/$target.options" ]]; then
    cp "$repo/fuzz/$target.options" "$OUT/"
  fi
}

mkdir -p "$OUT" "$WORK"
configure
mapfile -t targets < "$build/fuzz/targets.txt"
run cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz-}"
for target in "${targets[@]}"; do
  install_target "$target"
done
echo "build.sh: ${#targets[@]} fuzz targets in $OUT"
