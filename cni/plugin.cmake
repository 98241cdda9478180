add_library(ena_dpdk_cni STATIC
  attachment_store.cc
  cni_cli.cc
  dataplane.cc
  delegate.cc
  errors.cc
  netconf.cc
  plugin.cc
  slot_files.cc
)
ena_dpdk_target_defaults(ena_dpdk_cni)
target_link_libraries(ena_dpdk_cni PUBLIC ena_dpdk_cni_skel ena_dpdk_proto)

# ena-dpdk-cni is started once per command per pod attachment, so its start-up is on every pod's
# path: dynamically it loads ~60 libraries (gRPC, protobuf, Abseil) and spends ~11 ms of CPU in
# the loader's symbol lookup and ~13 MiB of RSS before main(). Linked against Debian's static
# archives of those libraries it starts in ~3 ms with ~8 MiB. Only libc, libstdc++, spdlog and fmt
# stay shared. The component archives are linked by file so that their CMake targets' shared
# dependencies do not come along.
pkg_check_modules(CNI_STATIC REQUIRED grpc++ protobuf absl_status absl_statusor absl_strings
  absl_str_format absl_flat_hash_map absl_synchronization absl_cord)
set(cni_static_libs ${CNI_STATIC_STATIC_LIBRARIES})
list(REMOVE_DUPLICATES cni_static_libs)
# System libraries stay shared.
list(REMOVE_ITEM cni_static_libs dl rt m pthread atomic)
list(TRANSFORM cni_static_libs PREPEND "-l:lib")
list(TRANSFORM cni_static_libs APPEND ".a")

add_executable(ena-dpdk-cni cni_main.cc)
ena_dpdk_target_defaults(ena-dpdk-cni)
add_dependencies(ena-dpdk-cni ena_dpdk_cni ena_dpdk_cni_skel ena_dpdk_common ena_dpdk_proto)
target_link_libraries(ena-dpdk-cni PRIVATE
  -Wl,--start-group
  $<TARGET_FILE:ena_dpdk_cni> $<TARGET_FILE:ena_dpdk_cni_skel> $<TARGET_FILE:ena_dpdk_common>
  $<TARGET_FILE:ena_dpdk_proto>
  ${cni_static_libs}
  -Wl,--end-group
  spdlog::spdlog fmt::fmt Threads::Threads ${CMAKE_DL_LIBS} rt
  -Wl,--push-state,--as-needed atomic -Wl,--pop-state)
