#!/usr/bin/env bash
# Installs, with apt-get, every Debian package that building, testing and
# fuzzing ipc-harness needs. Does nothing when all of them are present.
set -euo pipefail

required=(
  cmake make gcc libc6-dev pkg-config
  clang llvm libclang-rt-14-dev   # clang, llvm-profdata/llvm-cov, sanitizer runtimes
  afl++ libcmocka-dev valgrind python3
  socat                           # an independent peer in the channel CLI tests
  procps                          # ps, run by the popen tests and example
  util-linux                      # ipcs and ipcrm, to look at System V queues
  python3-sysv-ipc                # System V queues from the Python tests
  yamllint python3-yaml           # the CI files' check (ctest ci.workflows)
  strace binutils                 # ipch bench: the shm-ring's system calls; nm
)

# POSIX message queues are listed (and `ipch clean` finds the ones nobody
# registered) only where the mqueue file system is mounted; a container
# often lacks it. Without it the registry is the only list (docs/cleanup.md).
mount_mqueue() {
  if ((EUID != 0)) || mountpoint -q /dev/mqueue 2>/dev/null; then
    return 0
  fi
  if mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue; then
    echo "install-deps: mounted the mqueue file system on /dev/mqueue"
  else
    echo "install-deps: could not mount /dev/mqueue; POSIX queues are then" \
         "found through the object registry only" >&2
  fi
}

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for pkg in "${required[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all packages present: ${required[*]}"
  mount_mqueue
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: need root to install ${missing[*]};" \
         "run this script as root or install sudo" >&2
    exit 1
  fi
  sudo=(sudo)
fi
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q)

echo "install-deps: installing: ${missing[*]}"
"${apt[@]}" update
"${apt[@]}" install "${missing[@]}"
mount_mqueue
echo "install-deps: done"
