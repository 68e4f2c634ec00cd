# bench.run.smoke: tiny cells of every mode and of each kind of subject
# (a stream, a socket, a queue, shared memory; channels and raw baselines),
# each of which must exit 0 with one line on standard output; and a bad
# argument, which must exit 2.
# cmake -DEXE=bench-run [-DWRAPPER=valgrind;...] -P smoke.cmake
set(cells
  "list"
  "crc --size 4096 --time 0.02 --rounds 2"
  "ring-syscalls --size 1024 --count 8"
  "chan pipe --mode throughput --size 4096 --time 0.03"
  "chan raw:pipe --mode throughput --size 4096 --time 0.03"
  "chan raw:fifo --mode latency --size 64 --time 0.02"
  "chan unix-dgram --mode latency --size 100000 --time 0.02"
  "chan raw:unix-dgram --mode throughput --size 100000 --time 0.03 --rounds 2"
  "chan raw:tcp --mode latency --size 64 --time 0.02"
  "chan sysv-msg --mode throughput --size 20000 --time 0.03"
  "chan raw:sysv-msg --mode latency --size 20000 --time 0.02"
  "chan raw:posix-mq --mode throughput --size 20000 --time 0.03"
  "chan posix-mq --mode latency --size 64 --time 0.02"
  "chan shm-ring --mode latency --size 64 --time 0.02"
  "chan raw:shm-futex --mode throughput --size 3000000 --time 0.03"
  "chan raw:shm-futex --mode latency --size 64 --time 0.02"
  "chan shm-mpmc-sysv-sem --mode throughput --size 64 --time 0.03")

foreach(cell IN LISTS cells)
  separate_arguments(args UNIX_COMMAND "${cell}")
  execute_process(COMMAND ${WRAPPER} ${EXE} ${args}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REGEX MATCHALL "\n" lines "${out}")
  list(LENGTH lines nlines)
  if(NOT rc EQUAL 0 OR NOT nlines EQUAL 1 OR NOT out MATCHES "^{\"kind\":")
    message(FATAL_ERROR "bench-run ${cell}: exit status ${rc}, ${nlines} line(s) out\n"
                        "stdout: ${out}\nstderr: ${err}")
  endif()
  message(STATUS "bench-run ${cell}: ok")
endforeach()

execute_process(COMMAND ${EXE} chan pipe --mode throughput --size 0 --time 1
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT out STREQUAL "" OR NOT err MATCHES "--size")
  message(FATAL_ERROR "bench-run --size 0: exit status ${rc}, not 2 with a message "
                      "naming --size\nstdout: ${out}\nstderr: ${err}")
endif()
message(STATUS "bench-run --size 0: exit status 2")
