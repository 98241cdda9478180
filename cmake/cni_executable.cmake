# Included by the top-level CMakeLists.txt: both CNI plugins, ena-dpdk-cni (cni/) and
# ena-dpdk-ipam (ipam/), are built with it.

# ena_dpdk_cni_executable(<name> <main.cc> ARCHIVES <targets>... PKGS <pkg-config modules>...)
# A plugin binary linked against the static archives of its C++ libraries. The plugins are
# started once per command per pod attachment, so start-up is on every pod's path: linked
# dynamically, gRPC, protobuf and Abseil are ~60 libraries and ~11 ms of the loader's symbol
# lookup (and ~13 MiB of RSS) before main(); linked against Debian's static archives the plugin
# starts in ~3 ms with ~8 MiB. Only libc, libstdc++, spdlog and fmt stay shared. The component
# archives (ARCHIVES) are linked by file so that their CMake targets' shared dependencies do not
# come along; PKGS are the pkg-config modules whose static archives replace them.
function(ena_dpdk_cni_executable name main)
  cmake_parse_arguments(E "" "" "ARCHIVES;PKGS" ${ARGN})
  string(MAKE_C_IDENTIFIER "${name}_static" prefix)
  pkg_check_modules(${prefix} REQUIRED ${E_PKGS})
  set(libs ${${prefix}_STATIC_LIBRARIES})
  list(REMOVE_DUPLICATES libs)
  # System libraries stay shared.
  list(REMOVE_ITEM libs dl rt m pthread atomic)
  list(TRANSFORM libs PREPEND "-l:lib")
  list(TRANSFORM libs APPEND ".a")
  set(archives)
  foreach(archive ${E_ARCHIVES})
    list(APPEND archives $<TARGET_FILE:${archive}>)
  endforeach()
  add_executable(${name} ${main})
  ena_dpdk_target_defaults(${name})
  add_dependencies(${name} ${E_ARCHIVES})
  target_link_libraries(${name} PRIVATE
    -Wl,--start-group ${archives} ${libs} -Wl,--end-group
    spdlog::spdlog fmt::fmt Threads::Threads ${CMAKE_DL_LIBS} rt
    -Wl,--push-state,--as-needed atomic -Wl,--pop-state)
endfunction()
