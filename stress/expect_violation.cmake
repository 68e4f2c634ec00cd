# Runs a stress command that must find a violation: passes only if it
# exits with status 1 and reports VIOLATION <name>; prints how long the
# detection took (the run's "the first after S s").
#
#   cmake -DCMD=<program|arg|...> -DVIOLATION=<name> -DTIMEOUT=<seconds>
#         -P expect_violation.cmake
#
# CMD's items are separated by '|': a ';' would split the argument.
foreach(var IN ITEMS CMD VIOLATION TIMEOUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_violation.cmake: ${var} is not set")
  endif()
endforeach()
string(REPLACE "|" ";" cmd "${CMD}")

string(TIMESTAMP began "%s")
execute_process(COMMAND ${cmd}
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err
  TIMEOUT ${TIMEOUT})
string(TIMESTAMP ended "%s")
math(EXPR took "${ended} - ${began}")
message("${out}${err}")
if(NOT result STREQUAL "1")
  message(FATAL_ERROR "NOT CAUGHT: exit status ${result}, expected 1 with VIOLATION ${VIOLATION}")
endif()
if(NOT "${out}" MATCHES "VIOLATION ${VIOLATION}:")
  message(FATAL_ERROR "NOT CAUGHT: exit status 1, but no VIOLATION ${VIOLATION} in the report")
endif()
if("${out}" MATCHES "the first after ([0-9.]+) s")
  set(detect "${CMAKE_MATCH_1}")
else()
  set(detect "?")
endif()
message("caught: VIOLATION ${VIOLATION}; time to detect ${detect} s (the whole run about ${took} s)")
