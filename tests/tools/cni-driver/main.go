// cni-driver: a minimal CNI runtime built on libcni (Debian's golang-github-appc-cni-dev), for
// driving CNI plugins the way container runtimes and Multus do in integration tests, demos and
// benchmarks. It does not create network namespaces; pass an existing one.
//
// Usage:
//
//	cni-driver add|check|del (--conflist FILE | --conf FILE) --container-id ID --netns PATH
//	           --ifname IF [--cni-path DIRS] [--cache-dir DIR] [--args K=V;K=V] [--cap KEY=JSON]...
//
//	add    AddNetworkList: runs the list's plugins in order, caches the result, prints the
//	       result JSON (in the list's cniVersion) on stdout.
//	check  CheckNetworkList: runs CHECK with the cached result as prevResult.
//	del    DelNetworkList: runs the plugins in reverse with the cached result as prevResult
//	       (when there is one) and removes the cache entry.
//	With --conf the same through AddNetwork, CheckNetwork and DelNetwork: one plugin's network
//	configuration, the way Multus runs a NetworkAttachmentDefinition whose config has no
//	"plugins" list.
//
//	--conflist FILE      network configuration list (.conflist JSON)
//	--conf FILE          a single network configuration (.conf JSON), instead of --conflist
//	--container-id ID    CNI_CONTAINERID
//	--netns PATH         CNI_NETNS (may be empty for del)
//	--ifname IF          CNI_IFNAME
//	--cni-path DIRS      CNI_PATH, ':'-separated (default /opt/cni/bin)
//	--cache-dir DIR      libcni result cache (default /var/lib/cni)
//	--args K=V;K=V       CNI_ARGS (e.g. K8S_POD_NAMESPACE=default;K8S_POD_NAME=p)
//	--cap KEY=JSON       a capability argument (RuntimeConf.CapabilityArgs), repeatable: the value
//	                     is JSON, or a plain string when it does not parse as JSON, e.g.
//	                     --cap deviceID=eni1-03 --cap CNIDeviceInfoFile=/run/x/dev.json;
//	                     libcni passes it as runtimeConfig.KEY to plugins that declare it in
//	                     "capabilities", as Multus does for deviceID and CNIDeviceInfoFile.
//
// Exit status 0 on success. On failure the error goes to stdout as the CNI error JSON
// as the plugin printed it ({"code": N, "msg": ..., "details": ...}), or {"code": 999, "msg": ...}
// for errors of libcni itself, and the exit status is 1; 2 for bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

type capFlags map[string]interface{}

func (c capFlags) String() string { return fmt.Sprint(map[string]interface{}(c)) }

func (c capFlags) Set(v string) error {
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("expected KEY=JSON, got %q", v)
	}
	var parsed interface{}
	if err := json.Unmarshal([]byte(value), &parsed); err != nil {
		parsed = value
	}
	c[key] = parsed
	return nil
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cni-driver add|check|del (--conflist FILE | --conf FILE) --container-id ID --netns PATH --ifname IF [--cni-path DIRS] [--cache-dir DIR] [--args K=V;K=V] [--cap KEY=JSON]...")
	os.Exit(2)
}

func fail(err error) {
	// libcni wraps a plugin's error ("plugin type=... failed (add): ..."); print the plugin's.
	var e *types.Error
	if errors.As(err, &e) {
		out, _ := json.Marshal(e)
		fmt.Println(string(out))
	} else {
		out, _ := json.Marshal(map[string]interface{}{"code": 999, "msg": err.Error()})
		fmt.Println(string(out))
	}
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	command := os.Args[1]
	fs := flag.NewFlagSet("cni-driver "+command, flag.ExitOnError)
	conflist := fs.String("conflist", "", "network configuration list")
	conf := fs.String("conf", "", "single network configuration")
	containerID := fs.String("container-id", "", "CNI_CONTAINERID")
	netns := fs.String("netns", "", "CNI_NETNS")
	ifname := fs.String("ifname", "", "CNI_IFNAME")
	cniPath := fs.String("cni-path", "/opt/cni/bin", "CNI_PATH")
	cacheDir := fs.String("cache-dir", "/var/lib/cni", "libcni result cache")
	args := fs.String("args", "", "CNI_ARGS")
	caps := capFlags{}
	fs.Var(caps, "cap", "capability argument KEY=JSON (repeatable)")
	fs.Parse(os.Args[2:])
	if (*conflist == "") == (*conf == "") || *containerID == "" || *ifname == "" || fs.NArg() != 0 {
		usage()
	}
	rt := &libcni.RuntimeConf{
		ContainerID:    *containerID,
		NetNS:          *netns,
		IfName:         *ifname,
		CapabilityArgs: caps,
		CacheDir:       *cacheDir,
	}
	if *args != "" {
		for _, kv := range strings.Split(*args, ";") {
			k, v, _ := strings.Cut(kv, "=")
			rt.Args = append(rt.Args, [2]string{k, v})
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(*cniPath, ":"), *cacheDir, nil)
	ctx := context.Background()

	var run runtime
	if *conf != "" {
		net, err := libcni.ConfFromFile(*conf)
		if err != nil {
			fail(err)
		}
		run = runtime{
			add:   func() (types.Result, error) { return cni.AddNetwork(ctx, net, rt) },
			check: func() error { return cni.CheckNetwork(ctx, net, rt) },
			del:   func() error { return cni.DelNetwork(ctx, net, rt) },
		}
	} else {
		list, err := libcni.ConfListFromFile(*conflist)
		if err != nil {
			fail(err)
		}
		run = runtime{
			add:   func() (types.Result, error) { return cni.AddNetworkList(ctx, list, rt) },
			check: func() error { return cni.CheckNetworkList(ctx, list, rt) },
			del:   func() error { return cni.DelNetworkList(ctx, list, rt) },
		}
	}

	switch command {
	case "add":
		result, err := run.add()
		if err != nil {
			fail(err)
		}
		if err := result.PrintTo(os.Stdout); err != nil {
			fail(err)
		}
	case "check":
		if err := run.check(); err != nil {
			fail(err)
		}
	case "del":
		if err := run.del(); err != nil {
			fail(err)
		}
	default:
		usage()
	}
}

// runtime is libcni's ADD, CHECK and DEL for one configuration: a list, or a single network.
type runtime struct {
	add   func() (types.Result, error)
	check func() error
	del   func() error
}
