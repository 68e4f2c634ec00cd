# Flags and helpers shared by every directory of the build.

# Warnings are errors everywhere, under gcc and clang alike.
add_compile_options(-Wall -Wextra -Werror)
add_compile_definitions(_GNU_SOURCE)

# Sanitizers apply to everything linked together, so they are set globally.
set(IPCH_SAN_FLAGS "")
if(IPCH_SANITIZER STREQUAL "asan")
  set(IPCH_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all)
elseif(IPCH_SANITIZER STREQUAL "tsan")
  set(IPCH_SAN_FLAGS -fsanitize=thread)
elseif(IPCH_SANITIZER STREQUAL "msan")
  set(IPCH_SAN_FLAGS -fsanitize=memory -fsanitize-memory-track-origins=2)
elseif(NOT IPCH_SANITIZER STREQUAL "none")
  message(FATAL_ERROR "IPCH_SANITIZER must be none, asan, tsan or msan, not '${IPCH_SANITIZER}'")
endif()

if(IPCH_FUZZ_ENGINE STREQUAL "libfuzzer")
  # The library gets coverage hooks; only fuzz executables link libFuzzer's main.
  list(APPEND IPCH_SAN_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
elseif(IPCH_FUZZ_ENGINE STREQUAL "afl")
  if(NOT CMAKE_C_COMPILER MATCHES "afl-clang")
    message(FATAL_ERROR "IPCH_FUZZ_ENGINE=afl needs CC=afl-clang-fast (use the 'afl' preset)")
  endif()
elseif(IPCH_FUZZ_ENGINE STREQUAL "external")
  # A fuzzing service's build (ClusterFuzzLite, OSS-Fuzz: .clusterfuzzlite/
  # build.sh): its CFLAGS, given as CMAKE_C_FLAGS, carry the sanitizer and
  # the coverage hooks; IPCH_LIB_FUZZING_ENGINE is its $LIB_FUZZING_ENGINE,
  # which only the fuzz executables link.
  if(NOT IPCH_LIB_FUZZING_ENGINE)
    message(FATAL_ERROR "IPCH_FUZZ_ENGINE=external needs IPCH_LIB_FUZZING_ENGINE: -fsanitize=fuzzer or the engine's library")
  endif()
elseif(NOT IPCH_FUZZ_ENGINE STREQUAL "none")
  message(FATAL_ERROR "IPCH_FUZZ_ENGINE must be none, libfuzzer, afl or external, not '${IPCH_FUZZ_ENGINE}'")
endif()

if(IPCH_SAN_FLAGS)
  add_compile_options(${IPCH_SAN_FLAGS} -fno-omit-frame-pointer)
  add_link_options(${IPCH_SAN_FLAGS})
endif()

if(IPCH_COVERAGE)
  add_compile_options(-fprofile-instr-generate -fcoverage-mapping)
  add_link_options(-fprofile-instr-generate)
endif()

# Tests are plain executables in every preset but the fuzzing ones, whose
# binaries exist to fuzz.
if(IPCH_FUZZ_ENGINE STREQUAL "none")
  set(IPCH_BUILD_TESTS ON)
else()
  set(IPCH_BUILD_TESTS OFF)
endif()

if(IPCH_VALGRIND)
  find_program(IPCH_VALGRIND_EXE valgrind REQUIRED)
  # Any memcheck error or definite leak fails the test: exit code 99.
  set(IPCH_TEST_WRAPPER ${IPCH_VALGRIND_EXE} --quiet --error-exitcode=99
      --leak-check=full --errors-for-leak-kinds=definite
      --show-leak-kinds=definite --track-origins=yes)
  set(IPCH_TIMEOUT_SCALE 10)
else()
  set(IPCH_TEST_WRAPPER "")
  set(IPCH_TIMEOUT_SCALE 1)
endif()

# Every test notes the IPC objects it makes (System V and POSIX queues,
# private directories) in the build directory's object registry. A sweep
# before the run removes what an earlier, killed run left there; one after
# it removes what this run left, printing each, and fails if an object of
# the project outlived the run (docs/cleanup.md).
set(IPCH_REGISTRY_DIR ${CMAKE_BINARY_DIR}/registry)
cmake_path(SET IPCH_SWEEP_SCRIPT NORMALIZE ${CMAKE_CURRENT_LIST_DIR}/../ci/sweep.py)

# ipch_add_test(NAME <name> COMMAND <exe> [args...] LABELS <label>...
#               [TIMEOUT <seconds>] [NO_WRAPPER])
# Every test has a timeout (default 60 s, scaled under valgrind), the
# registry and its sweeps, and, in the valgrind preset, runs under memcheck
# unless NO_WRAPPER is given (for tests that run a script, which then wraps
# what it starts itself). A test that needs more variables appends them
# (set_property(TEST ... APPEND PROPERTY ENVIRONMENT ...)), keeping the
# registry's.
function(ipch_add_test)
  cmake_parse_arguments(T "NO_WRAPPER" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  math(EXPR timeout "${T_TIMEOUT} * ${IPCH_TIMEOUT_SCALE}")
  set(wrapper ${IPCH_TEST_WRAPPER})
  if(T_NO_WRAPPER)
    set(wrapper "")
  endif()
  list(GET T_COMMAND 0 exe)
  list(REMOVE_AT T_COMMAND 0)
  if(TARGET ${exe})
    set(exe $<TARGET_FILE:${exe}>)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${wrapper} ${exe} ${T_COMMAND})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${timeout} LABELS "${T_LABELS}"
    ENVIRONMENT "IPCH_REGISTRY=${IPCH_REGISTRY_DIR}"
    FIXTURES_REQUIRED ipch_registry)
endfunction()

# The two sweeps, added once the top directory is read (and so after its
# enable_testing()); ctest runs them with any selection of tests.
function(ipch_add_registry_sweeps)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME registry.sweep-before
    COMMAND ${Python3_EXECUTABLE} ${IPCH_SWEEP_SCRIPT} --before ${IPCH_REGISTRY_DIR})
  add_test(NAME registry.sweep-after
    COMMAND ${Python3_EXECUTABLE} ${IPCH_SWEEP_SCRIPT} --after ${IPCH_REGISTRY_DIR})
  set_tests_properties(registry.sweep-before PROPERTIES
    TIMEOUT 60 FIXTURES_SETUP ipch_registry)
  set_tests_properties(registry.sweep-after PROPERTIES
    TIMEOUT 60 FIXTURES_CLEANUP ipch_registry)
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL ipch_add_registry_sweeps)

# ipch_backend_names(<var>): the names of the channel backends, read from the
# ipc_backends[] table in impl/channel.c, so that adding a backend there is
# all it takes for per-backend tests to include it. A backend's object is
# ipc_backend_<name with '-' as '_'>; the conformance.table test checks that
# rule against the names the table itself gives.
function(ipch_backend_names out)
  set(table ${PROJECT_SOURCE_DIR}/impl/channel.c)
  set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${table})
  file(STRINGS ${table} entries REGEX "^[ \t]*&ipc_backend_[a-z0-9_]+,")
  set(names "")
  foreach(entry IN LISTS entries)
    string(REGEX REPLACE "^[ \t]*&ipc_backend_([a-z0-9_]+),.*" "\\1" id "${entry}")
    string(REPLACE "_" "-" name "${id}")
    list(APPEND names ${name})
  endforeach()
  if(NOT names)
    message(FATAL_ERROR "found no backend in the ipc_backends[] table of ${table}")
  endif()
  set(${out} ${names} PARENT_SCOPE)
endfunction()
