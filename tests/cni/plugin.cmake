# ena-dpdk-cni unit tests: config/env parsing, records, and every command in-process against a
# stateful fake dataplane (real gRPC) and a fake IPAM plugin script.
ena_dpdk_add_test(cni_plugin_test LABEL unit
  SOURCES
    cni_test_env.cc
    netconf_test.cc
    plugin_test.cc
    records_test.cc
  LIBS ena_dpdk_cni ena_dpdk_fake_dataplane)

# The node path policy (cni/path_policy.h), and ena-dpdk-cni refusing paths outside it in-process.
ena_dpdk_add_test(cni_path_policy_test LABEL unit
  SOURCES
    cni_test_env.cc
    path_policy_test.cc
  LIBS ena_dpdk_cni ena_dpdk_fake_dataplane)

# cni-driver: a small CNI runtime on Debian's libcni (tests/tools/cni-driver/main.go), built in
# GOPATH mode from the packaged sources (golang-go, golang-github-appc-cni-dev).
find_program(GO_EXECUTABLE go)
set(CNI_DRIVER ${CMAKE_CURRENT_BINARY_DIR}/cni-driver)
set(CNI_DRIVER_SRC ${PROJECT_SOURCE_DIR}/tests/tools/cni-driver)
if(GO_EXECUTABLE)
  set(go_build ${CMAKE_COMMAND} -E env GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS=
      GOCACHE=${CMAKE_CURRENT_BINARY_DIR}/go-cache ${GO_EXECUTABLE} build -o ${CNI_DRIVER} .)
else()
  set(go_build ${CMAKE_COMMAND} -E echo "FATAL: go is missing; scripts/deps.sh installs golang-go"
      COMMAND ${CMAKE_COMMAND} -E false)
endif()
add_custom_command(
  OUTPUT ${CNI_DRIVER}
  COMMAND ${go_build}
  WORKING_DIRECTORY ${CNI_DRIVER_SRC}
  DEPENDS ${CNI_DRIVER_SRC}/main.go
  COMMENT "go build cni-driver (libcni)"
  VERBATIM)
add_custom_target(cni_driver ALL DEPENDS ${CNI_DRIVER})

# Through libcni (cni-driver) against a real dataplane with testpmd pods (needs root, hugepages,
# ena-dpdk-dataplane, ena-dpdk-ctl, ena-dpdk-ipam and the reference tuning plugin).
add_test(NAME cni_integration_test
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cni_integration_test.sh ${PROJECT_BINARY_DIR})
set_tests_properties(cni_integration_test PROPERTIES
  LABELS integration TIMEOUT 300 RESOURCE_LOCK "hugepages;cpu")

# The binary as a runtime runs it (separate processes), and 100 concurrent ADDs then DELs with the
# real ena-dpdk-ipam against the stateful fake dataplane.
ena_dpdk_add_test(cni_binary_test LABEL integration TIMEOUT 300
  SOURCES cni_binary_test.cc
  LIBS ena_dpdk_fake_dataplane ena_dpdk_proto ena_dpdk_common gRPC::grpc++)
add_dependencies(cni_binary_test ena-dpdk-cni ena-dpdk-ipam)
target_compile_definitions(cni_binary_test PRIVATE
  ENA_DPDK_CNI_BINARY="$<TARGET_FILE:ena-dpdk-cni>"
  ENA_DPDK_IPAM_BINARY="$<TARGET_FILE:ena-dpdk-ipam>")

# libFuzzer over config + environment parsing (tests/cni/fuzz), built with clang as a separate
# project, run for a bounded time by ctest on a scratch copy of the seed corpus.
find_program(CLANGXX_EXECUTABLE clang++)
set(CNI_FUZZER ${CMAKE_CURRENT_BINARY_DIR}/fuzz/cni_netconf_fuzz)
if(CLANGXX_EXECUTABLE)
  include(ExternalProject)
  ExternalProject_Add(cni_netconf_fuzz_build
    SOURCE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz
    BINARY_DIR ${CMAKE_CURRENT_BINARY_DIR}/fuzz
    CMAKE_ARGS -G Ninja -DCMAKE_CXX_COMPILER=${CLANGXX_EXECUTABLE} -DCMAKE_BUILD_TYPE=
      -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
    BUILD_ALWAYS ON
    INSTALL_COMMAND ""
    BUILD_BYPRODUCTS ${CNI_FUZZER})
  set(fuzz_command ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
    ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.sh ${CNI_FUZZER}
    ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus 30)
else()
  set(fuzz_command sh -c "echo 'FATAL: clang++ is missing; scripts/deps.sh installs clang' >&2; exit 1")
endif()
add_test(NAME cni_netconf_fuzz COMMAND ${fuzz_command})
set_tests_properties(cni_netconf_fuzz PROPERTIES LABELS unit TIMEOUT 180)

# Seeded, bounded fuzzing of both plugin binaries over stdin, the CNI_* environment and metadata
# answers (issue 20): no signal, exit 0 or 1, one well-formed JSON object, no write outside the
# temporary root.
ena_dpdk_add_test(cni_fuzz_test LABEL integration TIMEOUT 240 RESOURCE_LOCK cpu
  SOURCES cni_fuzz_test.cc ${PROJECT_SOURCE_DIR}/tests/support/fake_imds.cc
  LIBS ena_dpdk_common nlohmann_json::nlohmann_json PkgConfig::HTTPLIB)
add_dependencies(cni_fuzz_test ena-dpdk-cni ena-dpdk-ipam)
target_compile_definitions(cni_fuzz_test PRIVATE
  ENA_DPDK_CNI_BINARY="$<TARGET_FILE:ena-dpdk-cni>"
  ENA_DPDK_IPAM_BINARY="$<TARGET_FILE:ena-dpdk-ipam>")
