# Runs a deliberately wrong program and passes only if a check of the
# project caught it: the program must end in failure (a non-zero exit or a
# signal) and its output must match EXPECT.
#
#   cmake -DEXE=<program> [-DARGS=<a|b|...>] [-DWRAPPER=<w|x|...>]
#         -DEXPECT=<regex> -DTIMEOUT=<seconds> -P expect_caught.cmake
#
# Lists are given with '|' between items: a ';' would split the argument.
foreach(var IN ITEMS EXE EXPECT TIMEOUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_caught.cmake: ${var} is not set")
  endif()
endforeach()
string(REPLACE "|" ";" args "${ARGS}")
string(REPLACE "|" ";" wrapper "${WRAPPER}")

execute_process(COMMAND ${wrapper} ${EXE} ${args}
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err
  TIMEOUT ${TIMEOUT})
message("${out}${err}")
if(result STREQUAL "0")
  message(FATAL_ERROR "NOT CAUGHT: ${EXE} succeeded; expected it to fail with '${EXPECT}'")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "NOT CAUGHT: ${EXE} failed (${result}) but without '${EXPECT}'")
endif()
message("caught: ${EXE} failed (${result}) with '${EXPECT}'")
