add_library(ena_dpdk_ipam STATIC
  imds.cc
  imds_cache.cc
  ipam.cc
  ipam_address.cc
  ipam_cli.cc
  ipam_config.cc
  ipam_errors.cc
  ipam_leases.cc
  ipam_pool.cc
)
ena_dpdk_target_defaults(ena_dpdk_ipam)
target_link_libraries(ena_dpdk_ipam PUBLIC ena_dpdk_cni_skel CURL::libcurl)

add_executable(ena-dpdk-ipam ipam_main.cc)
ena_dpdk_target_defaults(ena-dpdk-ipam)
target_link_libraries(ena-dpdk-ipam PRIVATE ena_dpdk_ipam)
