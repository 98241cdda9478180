add_library(ena_dpdk_ipam STATIC
  curl_api.cc
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
# libcurl's headers only: the library is dlopen()ed on first use (cni/curl_api.h).
target_include_directories(ena_dpdk_ipam SYSTEM PRIVATE
  $<TARGET_PROPERTY:CURL::libcurl,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(ena_dpdk_ipam PUBLIC ena_dpdk_cni_skel ${CMAKE_DL_LIBS})

ena_dpdk_cni_executable(ena-dpdk-ipam ipam_main.cc
  ARCHIVES ena_dpdk_ipam ena_dpdk_cni_skel ena_dpdk_common
  PKGS absl_status absl_statusor absl_strings absl_str_format absl_flat_hash_map
    absl_synchronization absl_cord absl_time)
