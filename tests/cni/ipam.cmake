# The CNI result model shared by both plugins (cni/result.h).
ena_dpdk_add_test(cni_result_test LABEL unit
  SOURCES result_test.cc
  LIBS ena_dpdk_cni_skel)

# ena-dpdk-ipam: config and environment, pools, leases and operations, the metadata client and
# cache against a fake IMDS.
ena_dpdk_add_test(ipam_test LABEL unit
  SOURCES
    ipam_config_test.cc
    ipam_imds_test.cc
    ipam_pool_test.cc
    ipam_test.cc
    ${PROJECT_SOURCE_DIR}/tests/support/fake_imds.cc
  LIBS ena_dpdk_ipam PkgConfig::HTTPLIB)

# ena-dpdk-ipam as a separate process, as a CNI runtime runs it.
ena_dpdk_add_test(ipam_binary_test LABEL integration
  SOURCES ipam_binary_test.cc ${PROJECT_SOURCE_DIR}/tests/support/fake_imds.cc
  LIBS ena_dpdk_common nlohmann_json::nlohmann_json PkgConfig::HTTPLIB)
target_compile_definitions(ipam_binary_test PRIVATE IPAM_BINARY="$<TARGET_FILE:ena-dpdk-ipam>")
add_dependencies(ipam_binary_test ena-dpdk-ipam)
