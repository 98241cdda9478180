# Python tests (pytest), run by ctest like the others. Debian's pytest (python3-pytest, installed
# by scripts/deps.sh) belongs to Debian's Python, hence /usr/bin/python3 and not the first
# python3 on PATH. A missing pytest fails the test and says how to install it (no silent skip).
include_guard(GLOBAL)
set(ENA_DPDK_PYTHON /usr/bin/python3 CACHE FILEPATH "Python 3 that has pytest (python3-pytest)")

# ena_dpdk_add_pytest(<name> LABEL <label> PATHS <file-or-dir>... [ENVIRONMENT VAR=value...]
#                     [TIMEOUT s] [RESOURCE_LOCK lock...])
# Registers one ctest test that runs pytest on PATHS (no cache or bytecode written to the source
# tree). tests/support is on the module path (the sandbox harness, dpdk_procs) and its `steps`
# plugin is loaded (@pytest.mark.must).
function(ena_dpdk_add_pytest name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "PATHS;ENVIRONMENT;RESOURCE_LOCK" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_test(NAME ${name}
    COMMAND sh -c "\"$0\" -c 'import pytest' 2>/dev/null || { echo \"FATAL: no pytest for $0; scripts/deps.sh installs python3-pytest\" >&2; exit 1; }; exec \"$0\" -m pytest -q -p no:cacheprovider -p steps \"$@\""
      ${ENA_DPDK_PYTHON} ${T_PATHS})
  set(environment PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=${PROJECT_SOURCE_DIR}/tests/support
    ${T_ENVIRONMENT})
  set_tests_properties(${name} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "${environment}")
  if(T_RESOURCE_LOCK)
    set_tests_properties(${name} PROPERTIES RESOURCE_LOCK "${T_RESOURCE_LOCK}")
  endif()
endfunction()
