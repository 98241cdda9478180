# One file per command (add, del, check, gc, status) over the attachment of the configured mode
# (cni/attachment.h: vhost_user_attachment, pci_attachment); plugin.cc builds the plugin for a
# request the skeleton dispatched.
add_library(ena_dpdk_cni STATIC
  add.cc
  attachment_store.cc
  check.cc
  cni_cli.cc
  del.cc
  delegate.cc
  gc.cc
  netconf.cc
  pci_attachment.cc
  plugin.cc
  rollback.cc
  slot_files.cc
  status.cc
  vhost_user_attachment.cc
)
ena_dpdk_target_defaults(ena_dpdk_cni)
target_link_libraries(ena_dpdk_cni PUBLIC ena_dpdk_cni_skel ena_dpdk_cni_records
  ena_dpdk_dataplane_client)

# The binary, linked statically against gRPC, protobuf and Abseil (ena_dpdk_cni_executable).
ena_dpdk_cni_executable(ena-dpdk-cni cni_main.cc
  ARCHIVES ena_dpdk_cni ena_dpdk_cni_skel ena_dpdk_cni_records ena_dpdk_dataplane_client
    ena_dpdk_common ena_dpdk_proto
  PKGS grpc++ protobuf absl_status absl_statusor absl_strings absl_str_format absl_flat_hash_map
    absl_synchronization absl_cord)
