# shellcheck shell=bash
# Node in a box: the whole ena-dpdk stack on one machine, as a library of shell functions sourced
# by scripts/demo.sh (which narrates it) and tests/e2e/e2e_test.sh (which asserts on it).
#
# One run is named (NIB_NAME, e.g. "demo" or "e2e4711") and owns:
#   /tmp/enadpdk-nib-<name>/          work directory: configs, logs, recorded state
#   /tmp/enadpdk-nib-<name>/root/     the sandbox root: the node as the device plugin (--root),
#                                     the kubelet stand-in, the CNI and the dataplane see it
#   network namespaces nib-<name>-vpc, nib-<name>-pod-a, nib-<name>-pod-b
#   the veth pair nb<tag>u (uplink, host side) / nb<tag>v (VPC side)
#   DPDK file prefix nib<name>dp (the dataplane's /var/run/dpdk/<prefix>)
#   cgroups /nib-<name>/kubepods/pod<uid> (the pods', the dataplane's and the device plugin's, with
#   the kubelet's hugetlb limits) and /nib-<name>/ena-dpdk/hugepages (where the device plugin
#   faults the pods' hugepages), in every cgroup hierarchy
#   runc containers nib-<name>-<pod>-<container> (the pods' apps, tests/tools/pod-runner)
#   hugepages node prep reserved for it (given back at teardown) and every mount under the work
#   directory.
# Everything is recorded under the work directory as it is created, so nib_teardown can undo a
# run from its directory alone: after Ctrl-C, after a failed step, or after the script running
# it was killed (the next run with the same name cleans up first).
#
# Functions return non-zero with one "nib: ..." line on stderr when a step fails; they never
# exit. Requires tests/support/dpdk_env.sh (require, wait_for) to be sourced first.

# shellcheck disable=SC2034 # the variables set here are for the scripts that source it

# The "VPC": its router holds .1; the static pool hands out the ENI's "secondary IPs".
NIB_VPC_GATEWAY=10.99.0.1
NIB_VPC_PREFIX=24
NIB_POOL=(10.99.0.10 10.99.0.11 10.99.0.12 10.99.0.13)
NIB_NETWORK=vpc
NIB_SLOTS=4
NIB_IFNAME=net1
# Where the device plugin mounts each attachment's slot in the container (deviceplugin
# ena.containerPath): what a pod's app knows.
NIB_POD_SLOT_DIR=/var/run/vhost-user
NIB_ENA_RESOURCE=dpdk.aws/ena
# The pods' hugepages resource: dpdk.aws/hugepages-1Gi, or -2Mi where the CPU has no 1G pages
# (nib_init picks it).
NIB_HUGE_RESOURCE=dpdk.aws/hugepages-1Gi
# The group that owns the slot directories (deviceplugin.ena.slotGroup, the CNI's slotGroup):
# non-root pods get it as their fsGroup.
NIB_SLOT_GROUP=1500
# pod-a runs as this user (runAsNonRoot, read-only root file system, no capability); pod-b as root.
NIB_POD_A_UID=1000
# 2M pages the dataplane's EAL needs free (-m 512 plus headroom).
NIB_DATAPLANE_2M=300
NIB_1G_FILE=/sys/kernel/mm/hugepages/hugepages-1048576kB
NIB_2M_FILE=/sys/kernel/mm/hugepages/hugepages-2048kB
# 2M pages a pod asks for (dpdk.aws/hugepages-2Mi) when the CPU has no 1G pages.
NIB_POD_2M=128
NIB_RUNNER=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)/pod-runner
NIB_POD_APP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pod_app.sh

# nib_pod_page_size: "1G" where the CPU and kernel offer 1G hugepages (pods then get theirs from
# the device plugin's dpdk.aws/hugepages-1Gi); "2M" where they do not (no pdpe1gb, as on some
# virtual machines): pods then get 2M pages from the device plugin's dpdk.aws/hugepages-2Mi, by
# the same mechanism, and its hugepages-1Gi rightly offers nothing.
nib_pod_page_size() {
  if [ -d "$NIB_1G_FILE" ]; then echo 1G; else echo 2M; fi
}

nib_err() { echo "nib: $*" >&2; return 1; }

# nib_init NAME BUILD_DIR: names every resource of the run (does not create anything).
nib_init() {
  NIB_NAME=$1
  NIB_BUILD=$(cd "$2" && pwd)
  [[ $NIB_NAME =~ ^[a-z0-9]{1,12}$ ]] || { nib_err "run name must be 1-12 of [a-z0-9]: $NIB_NAME"; return 1; }
  NIB_DIR=/tmp/enadpdk-nib-$NIB_NAME
  NIB_ROOT=$NIB_DIR/root
  NIB_LOGS=$NIB_DIR/logs
  NIB_STATE=$NIB_DIR/state
  local tag=${NIB_NAME:0:10}
  NIB_VPC_NS=nib-$NIB_NAME-vpc
  NIB_UPLINK=nb${tag}u
  NIB_VPC_IF=nb${tag}v
  NIB_DP_PREFIX=nib${NIB_NAME}dp
  NIB_DP_CONFIG=$NIB_DIR/dataplane.json
  NIB_NODEPREP_CONFIG=$NIB_DIR/nodeprep.json
  NIB_NODE_CONFIG=$NIB_ROOT/etc/ena-dpdk/config.json
  NIB_CONFLIST=$NIB_ROOT/etc/cni/net.d/10-$NIB_NETWORK.conflist
  # The same network in vhost client mode (the dataplane creates the socket), as a second
  # NetworkAttachmentDefinition would; pod-c uses it.
  NIB_CONFLIST_CLIENT=$NIB_ROOT/etc/cni/net.d/20-$NIB_NETWORK-client.conflist
  NIB_CNI_BIN=$NIB_ROOT/opt/cni/bin
  NIB_CNI_CACHE=$NIB_ROOT/var/lib/cni
  NIB_DP_SOCKET=$NIB_ROOT/run/ena-dpdk/dataplane.sock
  NIB_SLOT_DIR=$NIB_ROOT/var/run/ena-dpdk/vhost
  NIB_CNI_STATE=$NIB_ROOT/var/lib/ena-dpdk/cni
  NIB_IPAM_STATE=$NIB_ROOT/var/lib/ena-dpdk/ipam
  NIB_DEVINFO_DIR=$NIB_ROOT/var/run/k8s.cni.cncf.io/devinfo
  # The node's CNI path policy (docs/cni.md): this node's paths live under NIB_ROOT. The runtime's
  # environment names it, as a node administrator would; libcni passes it on to the plugins.
  NIB_CNI_POLICY=$NIB_ROOT/etc/ena-dpdk/cni-policy.json
  export ENA_DPDK_CNI_POLICY=$NIB_CNI_POLICY
  NIB_HUGE_2M=$NIB_ROOT/dev/hugepages
  NIB_HUGE_1G=$NIB_ROOT/dev/hugepages-1Gi
  NIB_DP_BIN=$NIB_BUILD/vhostuser/ena-dpdk-dataplane
  NIB_CTL_BIN=$NIB_BUILD/vhostuser/ena-dpdk-ctl
  NIB_DEVICEPLUGIN_BIN=$NIB_BUILD/deviceplugin/ena-dpdk-deviceplugin
  NIB_NODEPREP_BIN=$NIB_BUILD/nodeprep/ena-dpdk-nodeprep
  NIB_CNI_PLUGIN=$NIB_BUILD/cni/ena-dpdk-cni
  NIB_IPAM_PLUGIN=$NIB_BUILD/ipam/ena-dpdk-ipam
  NIB_STANDIN_BIN=$NIB_BUILD/tests/tools/kubelet-standin
  NIB_DRIVER_BIN=$NIB_BUILD/tests/cni/cni-driver
  NIB_RUNNER_STATE=$NIB_STATE/runner
  NIB_CGROUP_TOP=/nib-$NIB_NAME
  NIB_CGROUP_PARENT=$NIB_CGROUP_TOP/kubepods
  NIB_CHARGE_CGROUP=$NIB_CGROUP_TOP/ena-dpdk/hugepages
  NIB_HUGE_1GI_RESOURCE=dpdk.aws/hugepages-1Gi
  NIB_HUGE_RESOURCE=$NIB_HUGE_1GI_RESOURCE
  [ "$(nib_pod_page_size)" = 2M ] && NIB_HUGE_RESOURCE=dpdk.aws/hugepages-2Mi
  NIB_T0=${NIB_T0:-$(date +%s.%N)}
}

# ---- small helpers -------------------------------------------------------------------------

nib_ctl() { "$NIB_CTL_BIN" --socket "$NIB_DP_SOCKET" "$@"; }
nib_standin() { "$NIB_STANDIN_BIN" --root "$NIB_ROOT" "$@"; }
nib_elapsed() { awk -v a="$NIB_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%5.1f", b - a }'; }
# nib_progress TEXT: one progress line, with the seconds since the run started.
nib_progress() { printf '[%ss] %s\n' "$(nib_elapsed)" "$*"; }

# nib_record_pid NAME PID: remembered for teardown.
nib_record_pid() { echo "$2" >"$NIB_STATE/pids/$1"; }
nib_pid() { cat "$NIB_STATE/pids/$1" 2>/dev/null; }
# nib_owned PID: the process is alive and belongs to this run (its command line names the work
# directory), so a recycled pid is never signalled.
nib_owned() {
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$NIB_DIR"
}
# nib_stop NAME [SIGNAL]: signals a recorded process (default TERM), waits up to 10 s, then
# kills it.
nib_stop() {
  local pid
  pid=$(nib_pid "$1")
  if nib_owned "$pid"; then
    kill -"${2:-TERM}" "$pid" 2>/dev/null
    wait_for 10 sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
    wait_for 5 sh -c "! kill -0 $pid"
  fi
  # Reap it when it is our child (and gone: wait must never block here).
  [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -f "$NIB_STATE/pids/$1"
  return 0
}

# nib_metrics_port PID: the TCP port a process listens on (metricsAddress port 0 lets the kernel
# pick a free one; other runs may be on the machine at the same time).
nib_metrics_port() {
  ss -ltnpH 2>/dev/null | awk -v pid="pid=$1," 'index($0, pid) { n = split($4, a, ":"); print a[n]; exit }'
}

# ---- clean-up ------------------------------------------------------------------------------

# nib_teardown: undoes everything the run recorded, in reverse order, and removes the work
# directory. Safe to call at any point, repeatedly, and on a directory left by a killed run.
nib_teardown() {
  [ -d "$NIB_DIR" ] || return 0
  local pod
  # CNI DEL for every attachment still recorded (the dataplane may be down: the CNI records a
  # pending delete then, which nothing will finish once the sandbox is gone, so it is removed
  # with the directory).
  for pod in a b c; do
    [ -f "$NIB_STATE/pods/$pod/attachment" ] && nib_cni_del "$pod" >/dev/null 2>&1
  done
  for pod in a b c; do nib_pod_stop "$pod" >/dev/null 2>&1; done
  local name
  for name in pod-a pod-b pod-c pod-neg deviceplugin dataplane standin; do nib_stop "$name"; done
  # Anything else still running from the work directory (a step killed half-way).
  local pid
  for pid in $(pgrep -f -- "$NIB_DIR" 2>/dev/null); do
    [ "$pid" != "$$" ] && nib_owned "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  # The containers (runc may have been killed without them) and the pod cgroups; then the
  # cgroups the device plugin faulted pages in, and the run's cgroup tree in every hierarchy.
  for dir in "$NIB_RUNNER_STATE"/*/; do
    [ -d "$dir" ] && "$NIB_RUNNER" teardown --state "$NIB_RUNNER_STATE" --pod "$(basename "$dir")" >/dev/null 2>&1
  done
  local cid
  for cid in $(runc list -q 2>/dev/null | grep "^nib-$NIB_NAME-"); do
    runc delete --force "$cid" >/dev/null 2>&1
  done
  local hierarchy
  for hierarchy in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [ -d "$hierarchy$NIB_CGROUP_TOP" ] || continue
    # Only emptied cgroups go: a process still in one keeps it (and shows in nib_leftovers).
    find "$hierarchy$NIB_CGROUP_TOP" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^nib-$NIB_NAME-"); do
    ip netns del "$ns" 2>/dev/null
  done
  ip link del "$NIB_UPLINK" 2>/dev/null
  # Deepest mounts first; lazily, so a mount a dying process still holds goes too.
  local mnt
  while IFS= read -r mnt; do
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
  done < <(awk -v d="$NIB_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
  nib_restore_hugepages
  rm -rf "/var/run/dpdk/$NIB_DP_PREFIX"
  rm -rf "$NIB_DIR"
}

# nib_leftovers: prints what of the run still exists (processes, namespaces, the veth, mounts,
# DPDK runtime directories, the work directory), one line each; nothing after a clean teardown.
nib_leftovers() {
  local pid
  for pid in $(pgrep -f -- "$NIB_DIR" 2>/dev/null); do
    [ "$pid" != "$$" ] && nib_owned "$pid" && echo "process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
  done
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^nib-$NIB_NAME-" | sed 's/^/namespace /'
  runc list -q 2>/dev/null | grep "^nib-$NIB_NAME-" | sed 's/^/container /'
  local hierarchy
  for hierarchy in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [ -d "$hierarchy$NIB_CGROUP_TOP" ] && echo "cgroup $hierarchy$NIB_CGROUP_TOP"
  done
  ip link show "$NIB_UPLINK" >/dev/null 2>&1 && echo "link $NIB_UPLINK"
  awk -v d="$NIB_DIR" 'index($2, d) == 1 { print "mount " $2 }' /proc/mounts
  local rundir
  for rundir in /var/run/dpdk/nib"$NIB_NAME"*; do
    [ -e "$rundir" ] && echo "DPDK runtime directory $rundir"
  done
  [ -e "$NIB_DIR" ] && echo "directory $NIB_DIR"
  return 0
}

# nib_restore_hugepages: gives back exactly the pages node prep added for this run (other users
# may have changed the counts meanwhile, so the count is lowered by the amount added, never set).
nib_restore_hugepages() {
  local size file added now
  for size in 1G 2M; do
    [ -f "$NIB_STATE/hugepages-added-$size" ] || continue
    added=$(cat "$NIB_STATE/hugepages-added-$size")
    file=$NIB_1G_FILE/nr_hugepages
    [ "$size" = 2M ] && file=$NIB_2M_FILE/nr_hugepages
    if [ "$added" -gt 0 ]; then
      now=$(cat "$file")
      echo $((now > added ? now - added : 0)) >"$file"
    fi
    rm -f "$NIB_STATE/hugepages-added-$size"
  done
}

# nib_clean_leftovers: tears down an earlier run of the same name whose script is gone (Ctrl-C
# without teardown, kill -9); refuses when that run is still alive. Then claims the name.
nib_clean_leftovers() {
  if [ -d "$NIB_DIR" ]; then
    local owner
    owner=$(cat "$NIB_DIR/owner.pid" 2>/dev/null)
    if [ -n "$owner" ] && [ "$owner" != "$$" ] && kill -0 "$owner" 2>/dev/null; then
      nib_err "run '$NIB_NAME' is still active (pid $owner, $NIB_DIR)"
      return 1
    fi
    nib_progress "cleaning up what an interrupted run left in $NIB_DIR"
    nib_teardown
  fi
  mkdir -p "$NIB_DIR" "$NIB_LOGS" "$NIB_STATE/pids" "$NIB_STATE/pods"
  echo $$ >"$NIB_DIR/owner.pid"
}

# ---- 1. node preparation -------------------------------------------------------------------

# nib_prepare_node PODS: ena-dpdk-nodeprep on this machine's kernel (--root /): makes sure one
# free 1G page per pod (the device plugin's hugepages-1Gi) and the dataplane's 2M pages are
# reserved, and mounts hugetlbfs of both sizes in the sandbox. Its mounts
# and state file are in the sandbox; only the page counts are host-wide (given back at teardown).
nib_prepare_node() {
  local pods=$1
  mkdir -p "$NIB_ROOT/etc/ena-dpdk" "$NIB_ROOT/var/lib/ena-dpdk" "$NIB_ROOT/run/ena-dpdk" \
    "$NIB_ROOT/var/lib/kubelet" "$NIB_ROOT/dev"
  # The device plugin reads hugepage counts (and PCI devices) under --root: the real sysfs.
  ln -sfn /sys "$NIB_ROOT/sys"
  echo 0 >"$NIB_STATE/hugepages-added-1G"
  echo 0 >"$NIB_STATE/hugepages-added-2M"
  # Counts are totals: ask for what is reserved plus what is missing from the free pages.
  local nr1=0 free1=0 nr2 free2 want1=0 want2 need2=$NIB_DATAPLANE_2M
  NIB_PAGES=$(nib_pod_page_size)
  echo "$NIB_PAGES" >"$NIB_STATE/pod-page-size"
  if [ "$NIB_PAGES" = 1G ]; then
    nr1=$(cat $NIB_1G_FILE/nr_hugepages) free1=$(cat $NIB_1G_FILE/free_hugepages)
    want1=$((free1 >= pods ? nr1 : nr1 + pods - free1))
  else
    # One pod's worth more: the negative control's fresh pages must be there for it to be refused
    # by its cgroup, not by a lack of pages.
    need2=$((NIB_DATAPLANE_2M + (pods + 1) * NIB_POD_2M))
  fi
  nr2=$(cat $NIB_2M_FILE/nr_hugepages) free2=$(cat $NIB_2M_FILE/free_hugepages)
  want2=$((free2 >= need2 ? nr2 : nr2 + need2 - free2))
  jq -n --argjson g "$want1" --argjson m "$want2" --arg m1 "$NIB_HUGE_1G" --arg m2 "$NIB_HUGE_2M" \
    --arg pages "$NIB_PAGES" \
    '{nodeprep: {hugepages: {"1G": $g, "2M": $m, persist: "never"},
                 mounts: ([{path: $m1, pageSize: "1G"} | select($pages == "1G")]
                          + [{path: $m2, pageSize: "2M"}]),
                 bind: {interfaces: []}, hostExec: "direct"}}' >"$NIB_NODEPREP_CONFIG"
  # A 1G page needs a free, aligned gigabyte: drop the page cache and compact memory first, and
  # try again when other work on the machine fragmented it meanwhile (every run is idempotent).
  local attempt rc
  for attempt in 1 2 3; do
    sync
    echo 3 >/proc/sys/vm/drop_caches
    echo 1 >/proc/sys/vm/compact_memory
    rc=0
    "$NIB_NODEPREP_BIN" --config "$NIB_NODEPREP_CONFIG" --root / \
      --state-file "$NIB_ROOT/var/lib/ena-dpdk/nodeprep-state.json" \
      >"$NIB_LOGS/nodeprep.json" 2>"$NIB_LOGS/nodeprep.err" || rc=$?
    cp "$NIB_LOGS/nodeprep.json" "$NIB_LOGS/nodeprep-$attempt.json"
    nib_record_added_pages "$NIB_LOGS/nodeprep.json"
    [ "$rc" -eq 0 ] && [ "$(jq -r .ready "$NIB_LOGS/nodeprep.json" 2>/dev/null)" = true ] && break
  done
  if [ "$rc" -ne 0 ] || [ "$(jq -r .ready "$NIB_LOGS/nodeprep.json" 2>/dev/null)" != true ]; then
    nib_err "node prep failed (exit $rc, $attempt attempts): $(cat "$NIB_LOGS/nodeprep.err")"
    return 1
  fi
  if [ "$NIB_PAGES" = 1G ] && [ "$(cat $NIB_1G_FILE/free_hugepages)" -lt "$pods" ]; then
    nib_err "need $pods free 1G hugepages, $(cat $NIB_1G_FILE/free_hugepages) are free"
    return 1
  fi
  if [ "$(cat $NIB_2M_FILE/free_hugepages)" -lt "$need2" ]; then
    nib_err "need $need2 free 2M hugepages, $(cat $NIB_2M_FILE/free_hugepages) are free"
    return 1
  fi
}

# nib_record_added_pages REPORT: adds the pages a node prep run raised ("a -> b" changes of the
# nr_hugepages files) to what teardown gives back; called right after each run, before anything
# else can fail.
nib_record_added_pages() {
  local size target added
  for size in 1G 2M; do
    target=$NIB_1G_FILE/nr_hugepages
    [ "$size" = 2M ] && target=$NIB_2M_FILE/nr_hugepages
    added=$(jq -r --arg t "$target" '[.actions[]? | select(.step == "hugepages" and .target == $t
        and .status == "changed") | .change | capture("(?<a>[0-9]+) -> (?<b>[0-9]+)") |
        (.b | tonumber) - (.a | tonumber)] | add // 0' "$1" 2>/dev/null) || added=0
    echo $(($(cat "$NIB_STATE/hugepages-added-$size") + ${added:-0})) >"$NIB_STATE/hugepages-added-$size"
  done
}

# ---- 2. the VPC ----------------------------------------------------------------------------

# nib_start_vpc: a namespace holding the VPC router's address behind a veth pair whose host end
# is the vpc network's uplink (net_af_packet). Prints nothing.
nib_start_vpc() {
  ip netns add "$NIB_VPC_NS" || return 1
  ip link add "$NIB_UPLINK" type veth peer name "$NIB_VPC_IF" || return 1
  ip link set "$NIB_VPC_IF" netns "$NIB_VPC_NS" || return 1
  sysctl -qw "net.ipv6.conf.$NIB_UPLINK.disable_ipv6=1"
  ip link set "$NIB_UPLINK" up || return 1
  ip -n "$NIB_VPC_NS" addr add "$NIB_VPC_GATEWAY/$NIB_VPC_PREFIX" dev "$NIB_VPC_IF" || return 1
  ip -n "$NIB_VPC_NS" link set "$NIB_VPC_IF" up || return 1
  ip -n "$NIB_VPC_NS" link set lo up || return 1
  NIB_ENI_MAC=$(cat "/sys/class/net/$NIB_UPLINK/address")
}

# ---- 3. configuration ----------------------------------------------------------------------

# nib_write_configs: the node's config file (the device plugin's view: host paths, under
# --root), the dataplane's copy (the same dataplane section with the sandbox paths spelled out:
# the dataplane has no --root), the CNI network configuration list, and the CNI binaries
# "installed" in the sandbox's /opt/cni/bin.
nib_write_configs() {
  mkdir -p "$NIB_ROOT/etc/cni/net.d" "$NIB_CNI_BIN" "$NIB_CNI_CACHE" "$NIB_SLOT_DIR" \
    "$NIB_CNI_STATE" "$NIB_IPAM_STATE" "$NIB_DEVINFO_DIR" "$NIB_ROOT/var/log"
  ln -sfn "$NIB_CNI_PLUGIN" "$NIB_CNI_BIN/ena-dpdk-cni"
  ln -sfn "$NIB_IPAM_PLUGIN" "$NIB_CNI_BIN/ena-dpdk-ipam"
  mkdir -p "$(dirname "$NIB_CNI_POLICY")"
  jq -n --arg logs "$NIB_LOGS" --arg state "$NIB_CNI_STATE" --arg sock "$NIB_DP_SOCKET" \
    --arg slots "$NIB_SLOT_DIR" --arg devinfo "$NIB_DEVINFO_DIR" --arg ipam "$NIB_IPAM_STATE" \
    --arg config "$NIB_NODE_CONFIG" \
    '{logFile: [$logs], stateDir: [$state], dataplaneSocket: [$sock], slotDir: [$slots],
      CNIDeviceInfoFile: [$devinfo], "ipam.stateDir": [$ipam], "ipam.configFile": [$config]}' \
    >"$NIB_CNI_POLICY"
  chmod 0644 "$NIB_CNI_POLICY"
  local pool
  pool=$(printf "%s/$NIB_VPC_PREFIX\n" "${NIB_POOL[@]}" | jq -R . | jq -s .)
  # The dataplane section as the node's config file has it (host paths).
  jq -n --arg dev "net_af_packet0,iface=$NIB_UPLINK" --arg prefix "$NIB_DP_PREFIX" \
    --arg huge /dev/hugepages \
    '{eal: ["-l", "0,1", "--main-lcore", "0", "--file-prefix", $prefix, "--no-pci", "-m", "512",
            "--huge-dir", $huge],
      workers: [1],
      controlSocket: "/run/ena-dpdk/dataplane.sock",
      stateFile: "/var/lib/ena-dpdk/dataplane-state.json",
      metricsAddress: "127.0.0.1:0",
      allowedSocketDirs: ["/var/run/ena-dpdk/vhost"],
      mbufs: 8192,
      networks: [{name: "vpc", mode: "vpc", uplink: {device: $dev}}]}' >"$NIB_DIR/dataplane-host-view.json"
  # Hugepage allocations are faulted in per-allocation cgroups under this run's own tree (outside
  # its kubepods); the 2M resource is on where the pods need it.
  jq -n --slurpfile dp "$NIB_DIR/dataplane-host-view.json" --argjson slots "$NIB_SLOTS" \
    --argjson pool "$pool" --arg gw "$NIB_VPC_GATEWAY" --arg net "$NIB_NETWORK" \
    --argjson group "$NIB_SLOT_GROUP" --arg charge "$NIB_CHARGE_CGROUP" \
    --argjson twomeg "$([ "$(nib_pod_page_size)" = 2M ] && echo true || echo false)" \
    '{dataplane: $dp[0],
      deviceplugin: {ena: {slotsPerNetwork: $slots, slotGroup: $group}, metricsAddress: "127.0.0.1:0",
                     hugepages: {chargeCgroup: $charge},
                     hugepages2Mi: {enabled: $twomeg, chargeCgroup: $charge}},
      ipam: {stateDir: "/var/lib/ena-dpdk/ipam",
             networks: {($net): {addresses: $pool, gateway: $gw}}}}' >"$NIB_NODE_CONFIG"
  jq --arg r "$NIB_ROOT" '.eal |= map(if . == "/dev/hugepages" then $r + . else . end)
      | .controlSocket = $r + .controlSocket | .stateFile = $r + .stateFile
      | .cniStateDir = $r + "/var/lib/ena-dpdk/cni"
      | .allowedSocketDirs |= map($r + .) | {dataplane: .}' \
    "$NIB_DIR/dataplane-host-view.json" >"$NIB_DP_CONFIG"
  nib_write_conflist
}

# nib_write_conflist: the vpc network as Multus would delegate it (twice: vhost server and client
# mode, two NetworkAttachmentDefinitions of one network): ena-dpdk-cni in vhostuser
# mode on the sandbox's dataplane; ena-dpdk-ipam takes the static pool from the node config file
# (its host-view stateDir overridden with the sandbox path). cniVersion 1.0.0: Debian's libcni
# (1.1.2) cannot parse 1.1.0 results; GC, which needs 1.1.0, is invoked directly.
nib_write_conflist() {
  local mode name=$NIB_NETWORK file=$NIB_CONFLIST
  for mode in server client; do
    [ "$mode" = client ] && name=$NIB_NETWORK-client file=$NIB_CONFLIST_CLIENT
    jq -n --arg net "$NIB_NETWORK" --arg name "$name" --arg mode "$mode" --arg sock "$NIB_DP_SOCKET" --arg slots "$NIB_SLOT_DIR" \
      --arg state "$NIB_CNI_STATE" --arg log "$NIB_LOGS/cni.log" --arg ipam "$NIB_IPAM_STATE" \
      --arg config "$NIB_NODE_CONFIG" --argjson group "$NIB_SLOT_GROUP" \
      '{cniVersion: "1.0.0", name: $name,
        plugins: [{type: "ena-dpdk-cni", mode: "vhostuser", network: $net, slotGroup: $group,
                   vhost: {mode: $mode},
                   dataplaneSocket: $sock, slotDir: $slots, stateDir: $state, logFile: $log,
                   capabilities: {deviceID: true, CNIDeviceInfoFile: true},
                   ipam: {type: "ena-dpdk-ipam", configFile: $config, stateDir: $ipam}}]}' \
      >"$file"
  done
}

# ---- 4. daemons ----------------------------------------------------------------------------

# nib_start_standin: the kubelet stand-in (Registration, ListAndWatch, Allocate, PodResources).
nib_start_standin() {
  # The binary itself in the background (a function would be a subshell, whose pid is not the
  # process to signal).
  "$NIB_STANDIN_BIN" --root "$NIB_ROOT" serve >>"$NIB_LOGS/kubelet-standin.log" 2>&1 &
  nib_record_pid standin $!
  wait_for 10 test -S "$NIB_ROOT/var/lib/kubelet/kubelet-standin.sock" \
    || { nib_err "kubelet-standin did not come up: $(tail -3 "$NIB_LOGS/kubelet-standin.log")"; return 1; }
}

# nib_pod_cgroup POD [SIZE=BYTES...]: the pod cgroup of POD as the kubelet makes it (hugetlb limit =
# the pod's native hugepages-<size> request, 0 for every other size), made once; prints the path
# of its cgroup.procs.
nib_pod_cgroup() {
  local pod=$1 arg args=()
  shift
  for arg in "$@"; do args+=(--hugepages "$arg"); done
  if [ ! -f "$NIB_RUNNER_STATE/$pod/pod.json" ]; then
    "$NIB_RUNNER" sandbox --state "$NIB_RUNNER_STATE" --pod "$pod" --uid "nib-$NIB_NAME-$pod" \
      --cgroup-parent "$NIB_CGROUP_PARENT" "${args[@]}" || return 1
  fi
  jq -r '.cgroupRoot + .cgroup + "/cgroup.procs"' "$NIB_RUNNER_STATE/$pod/pod.json"
}

# sh -c "$NIB_IN_CGROUP" PROCS COMMAND...: runs COMMAND (exec: same pid) in the cgroup of PROCS.
# (Not a function: a function in the background is a subshell, whose pid is not the process.)
# shellcheck disable=SC2016 # $$ and $@ are the inner shell's
NIB_IN_CGROUP='echo $$ >"$0" && exec "$@"'

# The dataplane's pod asks for hugepages-2Mi natively (its EAL -m 512 faults them): its hugetlb
# limit is that request; the device plugin's pod asks for none: its limits are 0.
nib_start_dataplane() {
  local procs
  procs=$(nib_pod_cgroup dataplane "2MB=$((NIB_DATAPLANE_2M * 2097152))") || return 1
  sh -c "$NIB_IN_CGROUP" "$procs" "$NIB_DP_BIN" --config "$NIB_DP_CONFIG" >>"$NIB_LOGS/dataplane.log" 2>&1 &
  nib_record_pid dataplane $!
  wait_for 30 nib_ctl health >/dev/null \
    || { nib_err "the dataplane did not come up: $(tail -3 "$NIB_LOGS/dataplane.log")"; return 1; }
  NIB_DP_METRICS=$(nib_metrics_port "$(nib_pid dataplane)")
}

nib_start_deviceplugin() {
  local procs
  procs=$(nib_pod_cgroup deviceplugin) || return 1
  sh -c "$NIB_IN_CGROUP" "$procs" "$NIB_DEVICEPLUGIN_BIN" --config "$NIB_NODE_CONFIG" --root "$NIB_ROOT" \
    >>"$NIB_LOGS/deviceplugin.log" 2>&1 &
  nib_record_pid deviceplugin $!
  wait_for 20 nib_resources_ready \
    || { nib_err "the device plugin's resources did not register: $(tail -3 "$NIB_LOGS/deviceplugin.log")"; return 1; }
  NIB_DEVICEPLUGIN_METRICS=$(nib_metrics_port "$(nib_pid deviceplugin)")
}

# nib_resources_ready: the pods' resources registered, streaming, with Healthy devices.
# Without 1G pages, hugepages-1Gi registers and streams an empty list, and the pods' resource is
# hugepages-2Mi.
nib_resources_ready() {
  nib_standin resources 2>/dev/null | jq -e --arg e "$NIB_ENA_RESOURCE" --arg h "$NIB_HUGE_RESOURCE" \
    --arg g "$NIB_HUGE_1GI_RESOURCE" \
    '[.resources[] | select(.streaming) | select(.name == $g or
       ((.name == $e or .name == $h) and ([.devices[] | select(.health == "Healthy")] | length) > 0))]
     | map(.name) | unique | length == ([$e, $h, $g] | unique | length)' >/dev/null
}

# ---- 5. pods -------------------------------------------------------------------------------

# nib_pod_dir POD; nib_pod_ns POD; nib_container_id POD
nib_pod_dir() { echo "$NIB_STATE/pods/$1"; }
nib_pod_ns() { echo "nib-$NIB_NAME-pod-$1"; }
nib_container_id() { printf 'nib-%s-pod-%s' "$NIB_NAME" "$1" | sha256sum | cut -c1-64; }

# nib_pod_sandbox POD [CONFLIST]: what the kubelet and Multus do before the pod's app starts: the
# pod's cgroup (hugetlb limit 0 for every page size: the pod asks for no native hugepages) and
# network namespace; Allocate of one dpdk.aws/ena attachment and of the pod's hugepages
# (dpdk.aws/hugepages-1Gi: one page; -2Mi: NIB_POD_2M pages) through the stand-in; CNI ADD through
# libcni (CONFLIST, default the server-mode one) with the attachment as the deviceID capability.
nib_pod_sandbox() {
  local pod=$1 dir
  dir=$(nib_pod_dir "$pod")
  mkdir -p "$dir"
  echo "${2:-$NIB_CONFLIST}" >"$dir/conflist"
  nib_pod_cgroup "pod-$pod" >/dev/null || return 1
  ip netns add "$(nib_pod_ns "$pod")" || return 1
  nib_standin allocate "$NIB_ENA_RESOURCE" 1 --pod "pod-$pod" >"$dir/ena.json" 2>"$dir/allocate.err" \
    || { nib_err "allocate $NIB_ENA_RESOURCE for pod-$pod: $(cat "$dir/allocate.err")"; return 1; }
  local pages=1
  [ "$(nib_pod_page_size)" = 2M ] && pages=$NIB_POD_2M
  nib_standin allocate "$NIB_HUGE_RESOURCE" "$pages" --pod "pod-$pod" >"$dir/hugepages.json" 2>"$dir/allocate.err" \
    || { nib_err "allocate $pages of $NIB_HUGE_RESOURCE for pod-$pod: $(cat "$dir/allocate.err")"; return 1; }
  local device
  device=$(jq -r '.deviceIds[0]' "$dir/ena.json")
  echo "$device" >"$dir/device"
  # Recorded before ADD, so that teardown runs DEL even for an ADD that failed half-way.
  echo "$(nib_container_id "$pod") $NIB_IFNAME /run/netns/$(nib_pod_ns "$pod")" >"$dir/attachment"
  nib_cni add "$pod" >"$dir/cni-result.json" 2>"$dir/cni.err" \
    || { nib_err "CNI ADD for pod-$pod: $(cat "$dir/cni-result.json" "$dir/cni.err" | tr '\n' ' ')"; return 1; }
  jq -r '.ips[0].address | split("/")[0]' "$dir/cni-result.json" >"$dir/ip"
}

# nib_pod_ip POD
nib_pod_ip() { cat "$(nib_pod_dir "$1")/ip"; }
nib_pod_device() { cat "$(nib_pod_dir "$1")/device"; }
nib_port_id() { echo "$(nib_container_id "$1")/$NIB_IFNAME"; }

# nib_pod_securitycontext POD: the pod's securityContext as pod-runner options. pod-a (and pod-c,
# as the next uid): a non-root user with runAsNonRoot, the slot group as fsGroup, a read-only root
# file system and no capability; pod-b: root with every capability dropped but IPC_LOCK.
nib_pod_securitycontext() {
  case $1 in
    a | c)
      local uid=$NIB_POD_A_UID
      [ "$1" = c ] && uid=$((NIB_POD_A_UID + 1))
      echo --run-as-user "$uid" --run-as-group "$uid" --fs-group "$NIB_SLOT_GROUP" \
        --run-as-non-root --read-only-root --cap-drop-all
      ;;
    *) echo --run-as-user 0 --run-as-group 0 --cap-drop-all --cap-add IPC_LOCK ;;
  esac
}

# nib_pod_start POD PEER_POD: the pod's app container (tests/e2e/pod_app.sh) under runc through
# pod-runner: its OCI spec is built from the two Allocate responses and the pod's
# securityContext, in the pod's cgroup and network namespace. The app reads only what is inside
# its container. It answers ping (icmpecho) and, on request, streams to PEER_POD's IP (txonly).
# Commands reach it through a FIFO on its stdin.
nib_pod_start() {
  local pod=$1 peer=$2 dir
  dir=$(nib_pod_dir "$pod")
  rm -f "$dir/stdin"
  mkfifo "$dir/stdin"
  # shellcheck disable=SC2046 # the securityContext is a list of options
  "$NIB_RUNNER" run --state "$NIB_RUNNER_STATE" --pod "pod-$pod" --container app \
    --host-root "$NIB_ROOT" --netns "/run/netns/$(nib_pod_ns "$pod")" \
    --allocation "$dir/ena.json" --allocation "$dir/hugepages.json" \
    $(nib_pod_securitycontext "$pod") --env "PEER_IP=$(nib_pod_ip "$peer")" \
    --mount "$NIB_POD_APP:/pod/app.sh:ro" -- /bin/sh /pod/app.sh \
    <"$dir/stdin" >"$dir/testpmd.log" 2>&1 &
  nib_record_pid "pod-$pod" $!
  # Opening the FIFO's write end completes the open of its read end.
  exec {NIB_FD}>"$dir/stdin"
  eval "NIB_FD_$pod=$NIB_FD"
  nib_pod_cmd "$pod" "set fwd icmpecho" "start"
  wait_for 30 grep -q "icmpecho packet forwarding" "$dir/testpmd.log" \
    || { nib_err "pod-$pod's testpmd did not start: $(tail -3 "$dir/testpmd.log")"; return 1; }
  cp "$NIB_SLOT_DIR/$(nib_pod_device "$pod")/ena-dpdk.json" "$dir/ena-dpdk.json"
  nib_pod_info "$pod" >"$dir/container.json"
}

# nib_pod_info POD: what the pod is, from the inside and from its cgroup: one JSON object
# (container id, status, uid, groups, cgroup, hugetlb limits, usage and max events).
nib_pod_info() {
  "$NIB_RUNNER" state --state "$NIB_RUNNER_STATE" --pod "pod-$1" --container app
}

# nib_negative_control: the harness is faithful only if it refuses what a real node refuses: a
# pod in a cgroup with the same hugetlb limits (0) given a hugetlbfs the way this product did
# before (a mount of its own, sized to the request, nothing faulted in) and a fresh EAL file
# prefix must not get memory. Prints the container's exit status and its cgroup's hugetlb max
# events; returns 0 when it failed as expected (EAL "Cannot init memory" or SIGBUS, and the
# cgroup counted the refusal).
nib_negative_control() {
  local dir=$NIB_STATE/pods/neg size=2M bytes=$((NIB_POD_2M * 2097152)) key=2MB
  [ "$(nib_pod_page_size)" = 1G ] && size=1G bytes=1073741824 key=1GB
  mkdir -p "$dir/hugepages"
  mount -t hugetlbfs -o "pagesize=$size,size=$bytes,mode=1777" nodev "$dir/hugepages" || return 1
  nib_pod_cgroup pod-neg >/dev/null || return 1
  local rc=0
  timeout 30 "$NIB_RUNNER" run --state "$NIB_RUNNER_STATE" --pod pod-neg --container app \
    --mount "$dir/hugepages:/dev/hugepages:rw" --run-as-user "$NIB_POD_A_UID" \
    --run-as-group "$NIB_POD_A_UID" --run-as-non-root --cap-drop-all -- \
    dpdk-testpmd -l 0,1 --no-pci --vdev net_null0 --single-file-segments --huge-dir /dev/hugepages \
    --file-prefix fresh --socket-mem $((bytes / 1048576)) -- --stats-period 1 --total-num-mbufs 2048 \
    </dev/null >"$dir/testpmd.log" 2>&1 || rc=$?
  NIB_NEG_RC=$rc
  NIB_NEG_EVENTS=$("$NIB_RUNNER" state --state "$NIB_RUNNER_STATE" --pod pod-neg --container app |
    jq --arg k "$key" '.hugetlbMaxEvents[$k]')
  "$NIB_RUNNER" teardown --state "$NIB_RUNNER_STATE" --pod pod-neg
  umount "$dir/hugepages"
  NIB_NEG_REASON=signal
  grep -q "Cannot init memory" "$dir/testpmd.log" && NIB_NEG_REASON="EAL: Cannot init memory"
  [ "$rc" = 135 ] && NIB_NEG_REASON="SIGBUS"
  # 124: still running after 30 s, i.e. it got its memory.
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$NIB_NEG_EVENTS" -gt 0 ] &&
    { [ "$rc" = 135 ] || grep -q "Cannot init memory" "$dir/testpmd.log"; }
}

# nib_pod_fwd POD MODE: switches the pod's testpmd to forwarding MODE (icmpecho, txonly) and
# waits until it says it started, so that what follows does not depend on how soon a loaded
# machine schedules the pod's command line (its poll threads compete for the same cores).
nib_pod_fwd() {
  local log before
  log="$(nib_pod_dir "$1")/testpmd.log"
  before=$(grep -c "^$2 packet forwarding - ports" "$log")
  nib_pod_cmd "$1" stop "set fwd $2" start || return 1
  wait_for 60 sh -c "[ \$(grep -c '^$2 packet forwarding - ports' '$log') -gt $before ]" ||
    { nib_err "pod-$1's testpmd did not start $2 forwarding: $(tail -3 "$log")"; return 1; }
}

# nib_pod_cmd POD COMMAND...: testpmd commands, one per argument.
nib_pod_cmd() {
  local var="NIB_FD_$1"
  shift
  [ -n "${!var:-}" ] || return 1
  printf '%s\n' "$@" >&"${!var}"
}

# nib_pod_stop POD: quit testpmd (it prints its final statistics), close its stdin, make sure it
# is gone, and record its exit status in the pod's exit-status file.
nib_pod_stop() {
  local var="NIB_FD_$1" pid
  pid=$(nib_pid "pod-$1")
  if [ -n "${!var:-}" ]; then
    nib_pod_cmd "$1" stop quit 2>/dev/null
    eval "exec ${!var}>&-"
    eval "NIB_FD_$1="
    # (A loaded machine may take a while to schedule testpmd's command line and its final report.)
    nib_owned "$pid" && wait_for 60 sh -c "! kill -0 $pid"
    # runc's exit status is the app's (128+N for signal N: 135 is SIGBUS).
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      local rc=0
      wait "$pid" 2>/dev/null || rc=$?
      echo "$rc" >"$(nib_pod_dir "$1")/exit-status"
    fi
  fi
  nib_stop "pod-$1"
  # The container is gone with runc; its bundle (and a container a killed runc left) too.
  [ -f "$NIB_RUNNER_STATE/pod-$1/pod.json" ] &&
    "$NIB_RUNNER" delete --state "$NIB_RUNNER_STATE" --pod "pod-$1" --container app
  return 0
}

# nib_pod_port_stats POD: "RX TX" packets of the pod's virtio_user port as testpmd counts them,
# from a fresh "show port stats" block (its "Throughput" line ends the counters).
nib_pod_port_stats() {
  local log before
  log="$(nib_pod_dir "$1")/testpmd.log"
  before=$(grep -c "Throughput (since last show)" "$log")
  nib_pod_cmd "$1" "show port stats 0" || return 1
  wait_for 60 sh -c "[ \$(grep -c 'Throughput (since last show)' '$log') -gt $before ]" || return 1
  awk '/NIC statistics for port 0/ { rx = ""; tx = ""; inblock = 1 }
       inblock && /RX-packets:/ { rx = $2 }
       inblock && /TX-packets:/ { tx = $2; inblock = 0 }
       END { print rx, tx }' "$log"
}

# ---- 6. CNI (the Multus-like step) ---------------------------------------------------------

# nib_cni add|check|del POD: libcni through the driver, with the pod's attachment as the
# deviceID capability and a CNIDeviceInfoFile path, as Multus passes them.
nib_cni() {
  local command=$1 pod=$2 dir cid ifname netns
  dir=$(nib_pod_dir "$pod")
  read -r cid ifname netns <"$dir/attachment"
  "$NIB_DRIVER_BIN" "$command" --conflist "$(cat "$dir/conflist" 2>/dev/null || echo "$NIB_CONFLIST")" --container-id "$cid" --netns "$netns" \
    --ifname "$ifname" --cni-path "$NIB_CNI_BIN" --cache-dir "$NIB_CNI_CACHE" \
    --args "K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-$pod;K8S_POD_INFRA_CONTAINER_ID=$cid" \
    --cap "deviceID=\"$(cat "$dir/device")\"" \
    --cap "CNIDeviceInfoFile=\"$NIB_DEVINFO_DIR/default-pod-$pod-$ifname.json\""
}

# nib_cni_del POD: CNI DEL, then the pod is gone for the stand-in too.
nib_cni_del() {
  local dir
  dir=$(nib_pod_dir "$1")
  [ -f "$dir/attachment" ] || return 0
  nib_cni del "$1" >"$dir/cni-del.json" 2>"$dir/cni-del.err" \
    || { nib_err "CNI DEL for pod-$1: $(cat "$dir/cni-del.json" "$dir/cni-del.err" | tr '\n' ' ')"; return 1; }
  rm -f "$dir/attachment"
  nib_standin release --pod "pod-$1" >/dev/null 2>&1
  # The pod is gone: the kubelet removes its cgroup.
  "$NIB_RUNNER" teardown --state "$NIB_RUNNER_STATE" --pod "pod-$1" >/dev/null
}

# ---- 7. traffic and figures ----------------------------------------------------------------

# nib_ping POD: from the VPC router to the pod's IP (answered by testpmd's icmpecho; the switch
# answers ARP for it with the ENI's MAC).
nib_ping() {
  wait_for 20 ip netns exec "$NIB_VPC_NS" ping -c 3 -i 0.2 -W 1 "$(nib_pod_ip "$1")" >"$(nib_pod_dir "$1")/ping.log"
}

# nib_port_counter POD FIELD: a counter of the pod's dataplane port (ctl -o json).
nib_port_counter() {
  nib_ctl -o json port get "$(nib_port_id "$1")" 2>/dev/null | jq -r ".port.counters.$2 // \"0\" | tonumber"
}

# nib_stream FROM SECONDS: FROM's testpmd streams 64-byte UDP to the other pod for SECONDS, then
# answers ping again. Leaves the switch's view of the window in NIB_STREAM_* (packets the switch
# took from FROM, gave to the peer, elapsed seconds).
nib_stream() {
  local from=$1 secs=$2 to=b
  [ "$from" = b ] && to=a
  local rx0 tx0 t0 t1
  rx0=$(nib_port_counter "$from" rxPackets)
  tx0=$(nib_port_counter "$to" txPackets)
  nib_pod_fwd "$from" txonly || return 1
  t0=$(date +%s.%N)
  sleep "$secs"  # the measurement window itself, not a synchronisation
  nib_pod_fwd "$from" icmpecho || return 1
  t1=$(date +%s.%N)
  NIB_STREAM_RX=$(($(nib_port_counter "$from" rxPackets) - rx0))
  NIB_STREAM_TX=$(($(nib_port_counter "$to" txPackets) - tx0))
  NIB_STREAM_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# nib_metrics PORT: the /metrics page of the endpoint on 127.0.0.1:PORT.
nib_metrics() {
  local fd
  exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&"$fd"
  sed '1,/^\r*$/d' <&"$fd"
  exec {fd}>&-
}

# nib_metric PORT NAME [LABEL-REGEX]: the sum of a metric's samples (whose labels match).
nib_metric() {
  nib_metrics "$1" | awk -v n="$2" -v l="${3:-}" '
    $1 == n || index($1, n "{") == 1 { if (l == "" || $1 ~ l) s += $2 } END { printf "%d\n", s }'
}
