add_library(ena_dpdk_cni STATIC
  cni_cli.cc
)
ena_dpdk_target_defaults(ena_dpdk_cni)
target_link_libraries(ena_dpdk_cni PUBLIC ena_dpdk_cni_skel ena_dpdk_proto)

add_executable(ena-dpdk-cni cni_main.cc)
ena_dpdk_target_defaults(ena-dpdk-cni)
target_link_libraries(ena-dpdk-cni PRIVATE ena_dpdk_cni)
