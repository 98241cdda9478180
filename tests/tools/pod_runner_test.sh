#!/usr/bin/env bash
# pod-runner's contract: the OCI spec it builds from Allocate responses, CDI specs and a
# securityContext (checked field by field), its refusals, and one real container under runc in a
# pod cgroup with the kubelet's hugetlb limits. Needs root, runc, jq and a cgroup-v2 hierarchy with
# the hugetlb controller.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/dpdk_env.sh
. "$here/../support/dpdk_env.sh"
require runc jq
[ "$(id -u)" -eq 0 ] || { echo "FATAL: pod_runner_test needs root" >&2; exit 1; }
runner=$here/pod-runner
work=$(mktemp -d /tmp/pod-runner-test.XXXXXX)
parent=/podrunnertest$$/kubepods
state=$work/state
cleanup() {
  "$runner" teardown --state "$state" --pod p1 --cgroup-parent "$parent" >/dev/null 2>&1
  ip netns del "podrunnertest$$" 2>/dev/null
  [ "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# ---- the spec, from fixtures (a hand-made pod record: no cgroup is needed to build a spec) ----
mkdir -p "$state/fixture" "$work/root/etc/cdi" "$work/root/var/run/ena-dpdk/vhost/vpc-00" "$work/root/dev"
jq -n --arg p "$parent" '{pod: "fixture", uid: "u1", cgroup: ($p + "/podu1"), cgroupRoot: "/sys/fs/cgroup/unified",
  hugetlbLimits: {"2MB": 0}}' >"$state/fixture/pod.json"
# The host's device nodes, under the host root as on the node.
mknod "$work/root/dev/null" c 1 3 && mknod "$work/root/dev/zero" c 1 5
cat >"$work/ena.json" <<'EOF'
{"resource": "dpdk.aws/ena", "deviceIds": ["vpc-00"],
 "response": {"envs": {"ENA_DPDK_DEVICES": "vpc-00"},
              "mounts": [{"containerPath": "/var/run/vhost-user/vpc-00", "hostPath": "/var/run/ena-dpdk/vhost/vpc-00"}],
              "annotations": {"example.com/a": "b"}}}
EOF
cat >"$work/dedicated.json" <<'EOF'
{"envs": {"PCIDEVICE_DPDK_AWS_ENA_DEDICATED": "0000:00:07.0"},
 "devices": [{"containerPath": "/dev/vfio/vfio", "hostPath": "/dev/null", "permissions": "rw"}],
 "cdiDevices": [{"name": "dpdk.aws/ena-dedicated=0000-00-07.0"}]}
EOF
cat >"$work/root/etc/cdi/dpdk.aws_ena-dedicated_0000-00-07.0.json" <<'EOF'
{"cdiVersion": "0.5.0", "kind": "dpdk.aws/ena-dedicated",
 "devices": [{"name": "0000-00-07.0",
              "containerEdits": {"deviceNodes": [{"path": "/dev/vfio/4", "hostPath": "/dev/zero"}],
                                 "env": ["FROM_CDI=1"]}}]}
EOF
spec() { "$runner" spec --state "$state" --pod fixture --container app --host-root "$work/root" "$@"; }
spec --allocation "$work/ena.json" --allocation "$work/dedicated.json" --run-as-user 1000 \
  --run-as-group 1001 --fs-group 1500 --supplemental-group 7 --run-as-non-root --read-only-root \
  --cap-drop-all --cap-add ipc_lock --env PEER=1 --mount /tmp:/data:ro --netns /run/netns/x \
  -- /bin/app --flag >"$work/spec.json"
check "spec: builds" test -s "$work/spec.json"
field() { jq -r "$1" "$work/spec.json"; }
check "spec: user, group and supplementary groups (fsGroup, supplementalGroups)" \
  test "$(field '[.process.user.uid, .process.user.gid, (.process.user.additionalGids | join(","))] | join(" ")')" = "1000 1001 7,1500"
check "spec: the command" test "$(field '.process.args | join(" ")')" = "/bin/app --flag"
check "spec: envs from the responses, CDI edits and the pod spec" \
  sh -c "[ \"\$(jq -r '.process.env | map(select(startswith(\"ENA_DPDK_DEVICES=\") or startswith(\"PCIDEVICE_\") or startswith(\"FROM_CDI=\") or startswith(\"PEER=\"))) | length' $work/spec.json)\" = 4 ]"
check "spec: the slot mount, at its host path under the host root" \
  test "$(field '.mounts[] | select(.destination == "/var/run/vhost-user/vpc-00") | .source')" = "$work/root/var/run/ena-dpdk/vhost/vpc-00"
check "spec: a pod volume, read-only" \
  test "$(field '.mounts[] | select(.destination == "/data") | .options | index("ro") != null')" = true
check "spec: /tmp is an emptyDir" test "$(field '[.mounts[] | select(.destination == "/tmp")] | length')" = 1
check "spec: device nodes from the response and from CDI, with the host node's numbers" \
  test "$(field '[.linux.devices[] | "\(.path) \(.type) \(.major):\(.minor)"] | join(",")')" = "/dev/vfio/vfio c 1:3,/dev/vfio/4 c 1:5"
check "spec: the device cgroup denies all but those nodes" \
  test "$(field '[.linux.resources.devices[] | "\(.allow) \(.major // "-"):\(.minor // "-") \(.access)"] | join(",")')" = "false -:- rwm,true 1:3 rw,true 1:5 rwm"
check "spec: annotations of the response and the pod's" \
  test "$(field '.annotations["example.com/a"] + " " + .annotations["io.kubernetes.pod.uid"]')" = "b u1"
check "spec: capabilities: all dropped but IPC_LOCK" test "$(field '.process.capabilities.bounding | join(",")')" = CAP_IPC_LOCK
check "spec: no new privileges, read-only root" test "$(field '[.process.noNewPrivileges, .root.readonly] | join(" ")')" = "true true"
check "spec: the pod's network namespace and cgroup" \
  test "$(field '(.linux.namespaces[] | select(.type == "network") | .path) + " " + .linux.cgroupsPath')" = "/run/netns/x $parent/podu1/u1-app"
check "spec: no cgroup mount and no rlimits (what this machine's runc can apply)" \
  test "$(field '([.mounts[] | select(.type == "cgroup" or .type == "cgroup2")] | length) + (.process.rlimits // [] | length)')" = 0
default_caps=$(spec -- /bin/true | jq '.process.capabilities.bounding | length')
check "spec: containerd's 14 default capabilities when none are dropped" test "$default_caps" = 14

# ---- refusals ----
refused() {  # refused MESSAGE-REGEX ARGS...: pod-runner fails with one line matching MESSAGE
  local want=$1 err
  shift
  err=$("$runner" "$@" 2>&1 >/dev/null) && return 1
  grep -Eq "$want" <<<"$err" || { echo "  unexpected error: $err"; return 1; }
}
check "refuses runAsNonRoot with uid 0" refused "runAsNonRoot" spec --state "$state" --pod fixture --container app --run-as-non-root -- /bin/true
check "refuses a missing allocation file" refused "allocation file .* not found" spec --state "$state" --pod fixture --container app --allocation /nonexistent -- /bin/true
echo '{"cdiDevices": [{"name": "dpdk.aws/ena-dedicated=0000-00-09.0"}]}' >"$work/unknown-cdi.json"
check "refuses a CDI device no spec file has" refused "CDI device dpdk.aws/ena-dedicated=0000-00-09.0 is in no spec file" \
  spec --state "$state" --pod fixture --container app --host-root "$work/root" --allocation "$work/unknown-cdi.json" -- /bin/true
check "refuses a device node that does not exist" refused "device node /dev/nope does not exist" \
  spec --state "$state" --pod fixture --container app --allocation <(echo '{"devices": [{"hostPath": "/dev/nope", "containerPath": "/dev/nope"}]}') -- /bin/true
check "refuses a pod without a sandbox" refused "has no sandbox" spec --state "$state" --pod nosuch --container app -- /bin/true
check "refuses a cgroup parent with '..'" refused "without '..'" sandbox --state "$state" --pod p2 --uid x2 --cgroup-parent /a/../b
check "refuses a page size the kernel lacks" refused "has no 3MB hugepages" sandbox --state "$state" --pod p2 --uid x2 --cgroup-parent "$parent" --hugepages 3MB=0
check "a refused sandbox leaves no pod record" test ! -e "$state/p2/pod.json"

# ---- a real container: the pod cgroup, the user, the namespace ----
check "sandbox: the pod cgroup with the kubelet's hugetlb limits" \
  "$runner" sandbox --state "$state" --pod p1 --uid t$$ --cgroup-parent "$parent" --hugepages 2MB=4194304
root=$(jq -r .cgroupRoot "$state/p1/pod.json")
check "sandbox: hugetlb.2MB.max is the native request (4 MiB); every other size 0" \
  sh -c "[ \$(cat $root$parent/podt$$/hugetlb.2MB.max) = 4194304 ] && for f in $root$parent/podt$$/hugetlb.*.max; do case \$f in *2MB*) ;; *) [ \$(cat \$f) = 0 ] || exit 1 ;; esac; done"
ip netns add "podrunnertest$$"
# shellcheck disable=SC2016 # the container's shell expands it
"$runner" run --state "$state" --pod p1 --container app --run-as-user 1000 --run-as-group 1000 \
  --fs-group 1500 --run-as-non-root --read-only-root --cap-drop-all --netns "/run/netns/podrunnertest$$" \
  -- sh -c 'id -u; id -G; cat /proc/self/cgroup; echo links=$(ls /sys/class/net | wc -l); touch /tmp/ok && echo tmp-writable; touch /x 2>/dev/null || echo root-read-only; exit 3' \
  >"$work/run.log" 2>&1
rc=$?
check "run: the container's exit status is the app's" test "$rc" = 3
check "run: as uid 1000 with groups 1000 and 1500" sh -c "sed -n '1,2p' $work/run.log | tr '\n' ' ' | grep -qx '1000 1000 1500 '"
check "run: in a container cgroup under the pod cgroup" grep -q "^0::$parent/podt$$/t$$-app\$" "$work/run.log"
check "run: in the pod's network namespace (only lo)" grep -qx links=1 "$work/run.log"
check "run: /tmp writable, root read-only" sh -c "grep -q tmp-writable $work/run.log && grep -q root-read-only $work/run.log"
check "run: the exited container can run again (a restart)" \
  "$runner" run --state "$state" --pod p1 --container app --run-as-user 1000 -- true
check "teardown: removes the pod cgroup and its parent" \
  sh -c "'$runner' teardown --state '$state' --pod p1 --cgroup-parent '$parent' && ! ls -d /sys/fs/cgroup/*/podrunnertest$$ >/dev/null 2>&1"
check "teardown: no container is left" sh -c "! runc list -q | grep -q '^t$$-'"
summary pod_runner_test
