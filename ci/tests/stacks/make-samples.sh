#!/bin/sh
# Regenerates the sample reports of this directory: sample_target.c, with
# fuzz/replay_main.c or libFuzzer, crashed under ASan+UBSan, UBSan alone,
# MSan, TSan and Valgrind, and as a plain build. Each NAME.txt is what one
# run printed. Run from anywhere: ci/tests/stacks/make-samples.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
src=$here/sample_target.c
replay=$repo/fuzz/replay_main.c
# A copy seven lines down, with a global more: other lines and addresses.
shifted=$scratch/sample_target.c
{ printf '/* shifted */\nint pad[64] = { 1 };\n\n\n\n\n\n'; cat "$src"; } > "$shifted"

build() { # NAME SOURCE CC FLAGS... : the sample with the replay driver
	name=$1 source=$2 cc=$3; shift 3
	"$cc" -g -O1 -fno-omit-frame-pointer -pthread "$@" -o "$scratch/$name" "$source" "$replay"
}
input() { # LETTERS: an input file whose first byte picks the bug
	printf '%s' "$1" > "$scratch/in-$1"
	echo "$scratch/in-$1"
}
sample() { # NAME CMD...: run CMD, keep all it printed as NAME.txt
	name=$1; shift
	"$@" > "$here/$name.txt" 2>&1
	echo "$name: exit $?"
}

ASAN_OPTIONS=symbolize=1:handle_abort=1:detect_leaks=1:dedup_token_length=3
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:report_error_type=1
export ASAN_OPTIONS UBSAN_OPTIONS
build asan "$src" clang -fsanitize=address,undefined -fno-sanitize-recover=all
build asan-shifted "$shifted" clang -fsanitize=address,undefined -fno-sanitize-recover=all
sample asan-heap-buffer-overflow-read "$scratch/asan" "$(input Hx)"
sample asan-heap-buffer-overflow-read-shifted "$scratch/asan-shifted" "$(input Hyz)"
sample asan-heap-buffer-overflow-write "$scratch/asan" "$(input Wx)"
sample asan-heap-use-after-free "$scratch/asan" "$(input Fx)"
sample asan-segv "$scratch/asan" "$(input Nx)"
sample asan-ubsan-signed-integer-overflow "$scratch/asan" "$(input Ix)"
sample asan-abort-assert "$scratch/asan" "$(input Axyz)"
sample asan-leak "$scratch/asan" "$(input Lx)"
sample asan-allocation-size-too-big "$scratch/asan" "$(input Bx)"
sample asan-timeout-abrt timeout -s ABRT 2 "$scratch/asan" "$(input Tx)"

clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-pthread -o "$scratch/libfuzzer" "$src"
sample libfuzzer-heap-buffer-overflow-read "$scratch/libfuzzer" "$(input Hx)"
# libFuzzer's own handler reports the abort when ASan leaves SIGABRT alone.
ASAN_OPTIONS=symbolize=1 \
	sample libfuzzer-deadly-signal-assert "$scratch/libfuzzer" "$(input Axyz)"
sample libfuzzer-timeout "$scratch/libfuzzer" -timeout=1 "$(input Tx)"
sample libfuzzer-out-of-memory "$scratch/libfuzzer" -malloc_limit_mb=512 "$(input Mx)"

UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build ubsan "$src" clang -fsanitize=undefined -fno-sanitize-recover=all
sample ubsan-signed-integer-overflow "$scratch/ubsan" "$(input Ix)"

build msan "$src" clang -fsanitize=memory -fsanitize-memory-track-origins=2
sample msan-use-of-uninitialized-value "$scratch/msan" "$(input Uxy)"

build tsan "$src" clang -fsanitize=thread
sample tsan-data-race "$scratch/tsan" "$(input Rx)"

build plain "$src" gcc
build plain-shifted "$shifted" gcc
vg="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-origins=yes"
sample valgrind-invalid-read $vg "$scratch/plain" "$(input Hx)"
sample valgrind-invalid-read-shifted $vg "$scratch/plain-shifted" "$(input Hyz)"
sample valgrind-invalid-write $vg "$scratch/plain" "$(input Wx)"
sample valgrind-uninitialised $vg "$scratch/plain" "$(input Uxy)"
sample valgrind-segv $vg "$scratch/plain" "$(input Nx)"
sample valgrind-abort $vg "$scratch/plain" "$(input Axyz)"
sample valgrind-leak $vg "$scratch/plain" "$(input Lx)"
sample plain-assert "$scratch/plain" "$(input Axyz)"
