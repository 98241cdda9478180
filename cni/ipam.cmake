add_library(ena_dpdk_ipam STATIC
  ipam_cli.cc
)
ena_dpdk_target_defaults(ena_dpdk_ipam)
target_link_libraries(ena_dpdk_ipam PUBLIC ena_dpdk_cni_skel CURL::libcurl)

add_executable(ena-dpdk-ipam ipam_main.cc)
ena_dpdk_target_defaults(ena-dpdk-ipam)
target_link_libraries(ena-dpdk-ipam PRIVATE ena_dpdk_ipam)
