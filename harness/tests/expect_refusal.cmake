# cmake -DDRIVER=… -DTRACE=… -DEXPECTED=… -P expect_refusal.cmake (run in tests/data): the driver
# must exit non-zero and print exactly the expected line on stderr.
execute_process(COMMAND ${DRIVER} --check --trace=${TRACE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
file(READ ${EXPECTED} expected)
if(rc EQUAL 0)
  message(FATAL_ERROR "${TRACE}: accepted (exit 0) but must be refused; stdout: ${out}")
endif()
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "${TRACE}: exit status ${rc}, expected 1 (a crash?); stderr: ${err}")
endif()
if(NOT err STREQUAL expected)
  message(FATAL_ERROR "${TRACE}: wrong message\n  got:      ${err}  expected: ${expected}")
endif()
