#!/usr/bin/env bash
# Installs, with apt-get, every Debian package that building, testing and
# fuzzing ipc-harness needs. Does nothing when all of them are present.
set -euo pipefail

required=(
  cmake make gcc libc6-dev pkg-config
  clang llvm libclang-rt-14-dev   # clang, llvm-profdata/llvm-cov, sanitizer runtimes
  afl++ libcmocka-dev valgrind python3
)
optional=(ninja-build)

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing_of() {
  local pkg
  for pkg in "$@"; do
    installed "$pkg" || printf '%s\n' "$pkg"
  done
}

mapfile -t missing < <(missing_of "${required[@]}")
mapfile -t missing_optional < <(missing_of "${optional[@]}")

if ((${#missing[@]} == 0 && ${#missing_optional[@]} == 0)); then
  echo "install-deps: all packages present: ${required[*]} ${optional[*]}"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: need root to install ${missing[*]} ${missing_optional[*]};" \
         "run this script as root or install sudo" >&2
    exit 1
  fi
  sudo=(sudo)
fi
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q)

echo "install-deps: installing: ${missing[*]} ${missing_optional[*]}"
"${apt[@]}" update
if ((${#missing[@]} > 0)); then
  "${apt[@]}" install "${missing[@]}"
fi
if ((${#missing_optional[@]} > 0)); then
  "${apt[@]}" install "${missing_optional[@]}" ||
    echo "install-deps: could not install optional ${missing_optional[*]}; continuing" >&2
fi
echo "install-deps: done"
