"""What the tests run inside a sandbox (tests/support/sandbox.py): testpmd "pods", the "VPC"
namespace behind a veth uplink, ena-dpdk-ctl and the /metrics page.

Shared by the e2e test, the demo and the dataplane integration tests, so that a pod, a VPC or a
counter is read the same way everywhere.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sandbox import Process, Sandbox, SandboxError, run, wait_for

# ---- testpmd ------------------------------------------------------------------------------------


@dataclass
class PortStats:
    rx: int
    tx: int


class Testpmd:
    """A testpmd process. Interactive ones (``-i``) read commands from a pipe on stdin, so the
    test decides when a stream starts and stops; the others run with ``--stats-period`` (testpmd
    exits when stdin closes otherwise) and print their final statistics on SIGTERM."""

    def __init__(self, proc: Process, interactive: bool) -> None:
        self.proc = proc
        self.interactive = interactive

    @classmethod
    def start(
        cls,
        box: Sandbox,
        name: str,
        eal: Sequence[str],
        app: Sequence[str],
        *,
        interactive: bool = True,
        cgroup_procs: Path | None = None,
        argv_prefix: Sequence[str] = ("stdbuf", "-oL", "-eL"),
    ) -> "Testpmd":
        """``dpdk-testpmd EAL -- APP``; ``-i`` or ``--stats-period 1`` is added."""
        mode = ["-i"] if interactive else ["--stats-period", "1"]
        argv = [*argv_prefix, "dpdk-testpmd", *eal, "--", *mode, *app]
        return cls.wrap(box, name, argv, interactive, cgroup_procs)

    @classmethod
    def wrap(cls, box: Sandbox, name: str, argv: Sequence[str], interactive: bool = True,
             cgroup_procs: Path | None = None) -> "Testpmd":
        """A testpmd started by another launcher (pod-runner's runc) with ``argv``."""
        stdin = subprocess.PIPE if interactive else subprocess.DEVNULL
        proc = box.start(name, argv, stdin=stdin, cgroup_procs=cgroup_procs)
        return cls(proc, interactive)

    @property
    def log(self) -> Path:
        assert self.proc.log is not None
        return self.proc.log

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.text(), re.MULTILINE))

    def send(self, *commands: str) -> None:
        """Testpmd commands, one per line."""
        if not self.interactive or self.proc.popen is None or self.proc.popen.stdin is None:
            raise SandboxError(f"{self.proc.name}: not an interactive testpmd")
        try:
            self.proc.popen.stdin.write("".join(c + "\n" for c in commands).encode())
            self.proc.popen.stdin.flush()
        except BrokenPipeError as e:
            raise SandboxError(f"{self.proc.name}: testpmd is gone: {self.proc.log_tail(3)}") from e

    def command(self, commands: Sequence[str], until: str, timeout: float = 60) -> None:
        """Sends ``commands`` and waits until ``until`` (a regex) appears once more in the log, so
        that what follows does not depend on how soon a loaded machine schedules testpmd."""
        before = self.count(until)
        self.send(*commands)
        if not wait_for(timeout, lambda: self.count(until) > before):
            raise SandboxError(f"{self.proc.name}: no '{until}' after {list(commands)}: {self.proc.log_tail(3)}")

    def forward(self, mode: str, timeout: float = 60) -> None:
        """Switches forwarding to ``mode`` (icmpecho, txonly, ...) and waits until it runs."""
        self.command(["stop", f"set fwd {mode}", "start"], rf"^{mode} packet forwarding - ports", timeout)

    def port_stats(self, port: int = 0) -> PortStats:
        """RX and TX packets of a port, from a fresh "show port stats" block."""
        self.command([f"show port stats {port}"], r"Throughput \(since last show\)")
        blocks = re.findall(rf"NIC statistics for port {port}.*?RX-packets:\s*(\d+).*?TX-packets:\s*(\d+)",
                            self.text(), re.DOTALL)
        rx, tx = blocks[-1]
        return PortStats(int(rx), int(tx))

    def quit(self, timeout: float = 60) -> int | None:
        """Stops forwarding and quits (testpmd prints its final statistics); SIGTERM for the
        non-interactive kind. Its exit status (runc's is the app's: 128+N for signal N)."""
        if self.interactive and self.proc.alive():
            try:
                self.send("stop", "quit")
            except SandboxError:
                pass
            assert self.proc.popen is not None and self.proc.popen.stdin is not None
            self.proc.popen.stdin.close()
            return self.proc.stop(timeout=timeout) if self.proc.wait(timeout) is None else self.proc.returncode
        return self.proc.stop(timeout=timeout)

    def forward_stats(self, port: int, field: str) -> int:
        """From testpmd's final "Forward statistics for port N" block: RX, TX or RX-dropped."""
        # The block runs from its header line ("---- Forward statistics for port N ----", which
        # itself ends in dashes) to the next line of dashes only.
        blocks = re.findall(rf"Forward statistics for port {port}\s[^\n]*\n(.*?)^\s*-{{10,}}\s*$", self.text(),
                            re.DOTALL | re.MULTILINE)
        if not blocks:
            raise SandboxError(f"{self.proc.name}: no final statistics for port {port}")
        match = re.search(rf"{field}-packets:\s*(\d+)", blocks[-1])
        if not match:
            raise SandboxError(f"{self.proc.name}: no {field}-packets for port {port}")
        return int(match.group(1))


# ---- the VPC ------------------------------------------------------------------------------------


@dataclass
class Vpc:
    """A network namespace with the VPC router's address behind a veth pair whose host end is
    the dataplane's uplink (net_af_packet)."""

    netns: str
    uplink: str
    inside: str
    eni_mac: str

    def ping(self, address: str, count: int = 3, size: int | None = None, timeout: float = 20) -> str | None:
        """Pings from the VPC router; the output when answered, None otherwise."""
        argv = ["ip", "netns", "exec", self.netns, "ping", "-c", str(count), "-i", "0.2", "-W", "1"]
        if size is not None:
            argv += ["-M", "do", "-s", str(size)]
        result: list[str] = []

        def answered() -> bool:
            done = run([*argv, address], check=False, timeout=30)
            result[:] = [done.stdout]
            return done.returncode == 0

        return result[0] if wait_for(timeout, answered, interval=0.5) else None

    def neighbour_mac(self, address: str) -> str:
        return run(["ip", "-n", self.netns, "neigh", "show", address]).stdout

    def counter(self, which: str) -> int:
        """rx_packets / tx_packets of the VPC's end of the pair."""
        return int(run(["ip", "netns", "exec", self.netns, "cat",
                        f"/sys/class/net/{self.inside}/statistics/{which}"]).stdout)

    def enable_ipv6(self, router: str) -> None:
        """IPv6 on the VPC's end of the pair (``make_vpc`` turns it off by default), with the
        router's ``router`` (CIDR) and its EUI-64 link-local address, both usable at once (no
        DAD). The namespace forwards, as the VPC router does: it answers router solicitations'
        link-layer options and never solicits routers itself."""
        conf = "net.ipv6.conf"
        run(["ip", "netns", "exec", self.netns, "sysctl", "-qw", f"{conf}.{self.inside}.accept_dad=0",
             f"{conf}.all.forwarding=1", f"{conf}.all.disable_ipv6=0", f"{conf}.{self.inside}.disable_ipv6=0"])
        run(["ip", "-n", self.netns, "addr", "add", router, "dev", self.inside, "nodad"])

    def link_local(self) -> str:
        """The VPC end's link-local address (after ``enable_ipv6``)."""
        out = run(["ip", "-n", self.netns, "-6", "-o", "addr", "show", "dev", self.inside, "scope", "link"]).stdout
        match = re.search(r"inet6 (fe80::[0-9a-f:]+)/", out)
        if not match:
            raise SandboxError(f"{self.inside} in {self.netns} has no link-local address: {out!r}")
        return match.group(1)

    def advertise_router(self, lifetime: int = 1800) -> None:
        """One Router Advertisement to all-nodes (ff02::1) from the VPC end's link-local address:
        what the VPC router sends, with a router lifetime and no prefix (pods take their
        addresses from the IPAM, not SLAAC). The kernel fills in the ICMPv6 checksum."""
        code = (
            "import socket, sys\n"
            "ifindex = socket.if_nametoindex(sys.argv[1])\n"
            "mac = bytes.fromhex(sys.argv[2].replace(':', ''))\n"
            "lifetime = int(sys.argv[3])\n"
            "s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)\n"
            "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)\n"
            "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)\n"
            "ra = bytes([134, 0, 0, 0, 64, 0]) + lifetime.to_bytes(2, 'big') + bytes(8) + bytes([1, 1]) + mac\n"
            "s.sendto(ra, ('ff02::1', 0, 0, ifindex))\n"
        )
        mac = run(["ip", "netns", "exec", self.netns, "cat", f"/sys/class/net/{self.inside}/address"]).stdout.strip()
        run(["ip", "netns", "exec", self.netns, sys.executable, "-c", code, self.inside, mac, str(lifetime)])

    def icmp6_in(self, message: str) -> int:
        """An ICMPv6 input counter of the namespace (/proc/net/snmp6), e.g. RouterSolicits."""
        return snmp6(self.netns, f"Icmp6In{message}")


def make_vpc(box: Sandbox, netns: str, uplink: str, inside: str, router: str, *, mtu: int | None = None,
             quiet: bool = True) -> Vpc:
    """The VPC: ``router`` (CIDR) in ``netns`` behind a veth pair. ``quiet``: no IPv6 and no
    forwarding on the pair, so only the switch and the namespace put frames on it and the
    counters on both sides agree exactly."""
    box.netns(netns)
    if quiet:
        run(["ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
             "net.ipv6.conf.default.disable_ipv6=1"])
    box.veth(uplink, inside, netns)
    run(["sysctl", "-qw", f"net.ipv6.conf.{uplink}.disable_ipv6=1", f"net.ipv4.conf.{uplink}.forwarding=0"])
    if mtu:
        run(["ip", "link", "set", uplink, "mtu", str(mtu)])
        run(["ip", "-n", netns, "link", "set", inside, "mtu", str(mtu)])
    run(["ip", "link", "set", uplink, "up"])
    run(["ip", "-n", netns, "addr", "add", router, "dev", inside])
    run(["ip", "-n", netns, "link", "set", inside, "up"])
    run(["ip", "-n", netns, "link", "set", "lo", "up"])
    return Vpc(netns, uplink, inside, Path(f"/sys/class/net/{uplink}/address").read_text().strip())


def snmp6(netns: str, name: str) -> int:
    """A counter of a namespace's /proc/net/snmp6 (0 when the kernel lists none by that name)."""
    out = run(["ip", "netns", "exec", netns, "cat", "/proc/net/snmp6"]).stdout
    match = re.search(rf"^{re.escape(name)}\s+(\d+)$", out, re.MULTILINE)
    return int(match.group(1)) if match else 0


# ---- a pod with the kernel's IPv6 stack -----------------------------------------------------------


def pod_link_local(address: str) -> str:
    """The link-local address of a pod that owns ``address`` on a vpc network: fe80:: and the low
    64 bits of the address (docs/dataplane.md, "IPv6 on vpc networks"; podLinkLocal in
    vhostuser/packet.h). Pods there share the ENI's MAC, so EUI-64 link-local addresses collide."""
    low = int(ipaddress.IPv6Address(address.split("/")[0])) & ((1 << 64) - 1)
    return str(ipaddress.IPv6Address((0xfe80 << 112) | low))


def kernel_pod_netns(box: Sandbox, name: str) -> str:
    """A pod's network namespace whose interfaces, once created, form no link-local address of
    their own (addr_gen_mode none: it would be the EUI-64 of the shared ENI MAC) and no SLAAC
    address from a router advertisement (autoconf 0): only the addresses the pod is given."""
    box.netns(name)
    run(["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.default.addr_gen_mode=1",
         "net.ipv6.conf.default.autoconf=0", "net.ipv6.conf.all.autoconf=0"])
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    return name


def configure_pod_ipv6(netns: str, iface: str, cidr: str) -> str:
    """What docs/dataplane.md asks of a pod on a vpc network: its IPv6 address ``cidr`` and the
    link-local address derived from it on ``iface`` (both through the kernel's DAD). Returns the
    link-local address."""
    link_local = pod_link_local(cidr)
    run(["ip", "netns", "exec", netns, "sysctl", "-qw", f"net.ipv6.conf.{iface}.addr_gen_mode=1",
         f"net.ipv6.conf.{iface}.autoconf=0"])
    run(["ip", "-n", netns, "addr", "add", f"{link_local}/64", "dev", iface])
    run(["ip", "-n", netns, "addr", "add", cidr, "dev", iface])
    return link_local


def ipv6_addresses(netns: str, iface: str) -> str:
    """``ip -6 addr show`` of an interface (flags such as tentative or dadfailed included)."""
    return run(["ip", "-n", netns, "-6", "addr", "show", "dev", iface]).stdout


# ---- ena-dpdk-ctl and /metrics ------------------------------------------------------------------


class Ctl:
    """ena-dpdk-ctl on one control socket."""

    def __init__(self, binary: Path | str, control_socket: Path | str) -> None:
        self.argv = [str(binary), "--socket", str(control_socket)]

    def run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        return run([*self.argv, *args], check=check)

    def json(self, *args: str) -> dict:
        return json.loads(run([*self.argv, "-o", "json", *args]).stdout)

    def healthy(self) -> bool:
        return self.run("health").returncode == 0

    def ports(self) -> list[dict]:
        return self.json("ports").get("ports", [])

    def port(self, port_id: str) -> dict:
        return self.json("port", "get", port_id)["port"]

    def counter(self, port_id: str, name: str) -> int:
        """A port counter (0 when the dataplane has not counted any)."""
        return int(self.port(port_id).get("counters", {}).get(name, 0))

    def connected(self) -> int:
        return sum(1 for p in self.ports() if p.get("connected"))

    def network(self, name: str) -> dict:
        return next(n for n in self.json("networks")["networks"] if n["name"] == name)


def listening_port(pid: int) -> int:
    """The TCP port a process listens on (metricsAddress port 0 lets the kernel pick one)."""
    out = run(["ss", "-ltnpH"]).stdout
    for line in out.splitlines():
        if f"pid={pid}," in line:
            return int(line.split()[3].rsplit(":", 1)[1])
    raise SandboxError(f"process {pid} listens on no TCP port")


def free_tcp_port(host: str) -> int:
    """A TCP port that was free on ``host`` (an IPv4 or IPv6 address) a moment ago, for a
    daemon's --metrics-address: the test then knows where to scrape without asking ss."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def host_port(host: str, port: int) -> str:
    """HOST:PORT as --metrics-address and HTTP's Host header spell it ([::1]:9640 for IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def scrape(port: int, host: str = "127.0.0.1", path: str = "/metrics") -> str:
    """The body of an HTTP GET (HTTP/1.0, so the server closes the connection). A connection
    refused is a SandboxError (the daemon is not serving yet), so that ``until`` waits on it."""
    try:
        conn = socket.create_connection((host, port), timeout=10)
    except OSError as err:
        raise SandboxError(f"GET {path} on {host_port(host, port)}: {err}") from err
    with conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: {host_port(host, port)}\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode(errors="replace")
    if not status.startswith("HTTP/1.") or " 200 " not in status + " ":
        raise SandboxError(f"GET {path} on {host}:{port}: {status or 'no answer'}")
    return body.decode()


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The samples of a Prometheus text exposition: (name, labels, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE_RE.match(line)
        if match:
            out.append((match.group(1), dict(LABEL_RE.findall(match.group(2) or "")), float(match.group(3))))
    return out


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    return sum(v for n, l, v in samples(text) if n == name and all(l.get(k) == x for k, x in labels.items()))


def start_dataplane(box: Sandbox, binary: Path | str, config: Path, ctl: Ctl, *, name: str = "dataplane",
                    cgroup_procs: Path | None = None, timeout: float = 30, args: tuple[str, ...] = ()) -> Process:
    """ena-dpdk-dataplane --config CONFIG [ARGS], up when its control API answers health."""
    proc = box.start(name, [str(binary), "--config", str(config), *args], cgroup_procs=cgroup_procs)
    if not wait_for(timeout, lambda: proc.alive() and ctl.healthy()):
        raise SandboxError(f"the dataplane did not come up: {proc.log_tail(5)}")
    return proc


def telemetry(prefix: str, command: str, runtime: Path = Path("/var/run/dpdk")) -> dict:
    """One DPDK telemetry command (e.g. "/ethdev/xstats,0") to the process with EAL file prefix
    ``prefix``; its JSON answer's value. For counters the control API does not carry (per-queue
    xstats of an uplink)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
        conn.settimeout(10)
        conn.connect(str(runtime / prefix / "dpdk_telemetry.v2"))
        conn.recv(65536)  # the greeting: version, pid, max_output_len
        conn.send(command.encode())
        answer = json.loads(conn.recv(1 << 20))
    return answer[command.split(",", 1)[0]]
