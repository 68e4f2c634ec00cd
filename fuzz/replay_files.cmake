# cmake -DEXE=<fuzz binary> -DDIR=<corpus dir> -P replay_files.cmake
#
# Runs an AFL++ fuzz binary once over every input file of DIR, in name order:
# its driver runs the files named on its command line, but takes no
# directory. Dotfiles and README* are not inputs.
if(NOT EXE OR NOT DIR)
  message(FATAL_ERROR "replay_files.cmake needs -DEXE=<fuzz binary> -DDIR=<corpus dir>")
endif()
if(NOT IS_DIRECTORY "${DIR}")
  message(FATAL_ERROR "corpus directory '${DIR}' does not exist; create it or reconfigure the build")
endif()

file(GLOB entries LIST_DIRECTORIES false "${DIR}/*")
set(inputs "")
foreach(path IN LISTS entries)
  get_filename_component(name "${path}" NAME)
  if(NOT name MATCHES "^(\\.|README)")
    list(APPEND inputs "${path}")
  endif()
endforeach()
list(SORT inputs)
list(LENGTH inputs count)
if(count EQUAL 0)
  message(STATUS "${DIR}: no inputs")
  return()
endif()

execute_process(COMMAND "${EXE}" ${inputs} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} failed (${rc}) on the inputs of ${DIR}; "
                      "run it on each file alone to find the one that breaks")
endif()
message(STATUS "${EXE}: ${count} inputs of ${DIR} ran clean")
