#include "vhostuser/port_table.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/strings.h"

namespace enadpdk::vhostuser {

using common::strCat;

namespace {
std::string_view addressOf(std::string_view cidr) { return cidr.substr(0, cidr.find('/')); }

// The link-local address a pod derives from an IPv6 address of its port (podLinkLocal);
// nullopt for an IPv4 address. `cidr` was normalised by validatePortSpec.
std::optional<Ipv6Addr> linkLocalOf(std::string_view cidr) {
  const std::string addr(addressOf(cidr));
  Ipv6Addr a;
  if (inet_pton(AF_INET6, addr.c_str(), a.data()) != 1) return std::nullopt;
  return podLinkLocal(a);
}

std::string formatIpv6(const Ipv6Addr& a) {
  char out[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a.data(), out, sizeof(out));
  return out;
}

// AlreadyExists when one of `spec`'s IPv6 addresses derives the same link-local address as one
// of `other`'s: pods of a vpc network share the ENI's MAC, so their link-local addresses come
// from their own addresses' low 64 bits, and two ports cannot answer for one.
absl::Status checkLinkLocals(const PortSpec& spec, const PortSpec& other) {
  for (size_t i = 0; i < spec.ips.size(); ++i) {
    const std::optional<Ipv6Addr> mine = linkLocalOf(spec.ips[i]);
    if (!mine) continue;
    for (const std::string& theirs : other.ips) {
      if (linkLocalOf(theirs) == mine) {
        return absl::AlreadyExistsError(
            strCat("ips[", i, "]: ", addressOf(spec.ips[i]), " gives the link-local address ",
                   formatIpv6(*mine), " that port \"", other.id, "\" derives from ",
                   addressOf(theirs), " (the low 64 bits must differ)"));
      }
    }
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<PortTable::Admission> PortTable::admit(
    PortSpec spec, const std::vector<NetworkFacts>& networks) const {
  const auto net = std::find_if(networks.begin(), networks.end(),
                                [&](const NetworkFacts& n) { return n.name == spec.network; });
  if (net == networks.end()) {
    return absl::InvalidArgumentError(strCat("network: no network \"", spec.network, "\""));
  }
  Admission a;
  a.network = static_cast<size_t>(net - networks.begin());
  switch (net->mode) {
    case NetworkMode::Vpc: {
      const std::string eni = formatMac(net->eni_mac);
      if (spec.mac.empty()) spec.mac = eni;
      if (spec.mac != eni) {
        return absl::InvalidArgumentError(strCat("mac: ports on vpc network \"", net->name,
                                                 "\" use the ENI's MAC ", eni, ", not ", spec.mac));
      }
      break;
    }
    case NetworkMode::L2:
      break;  // any MAC; the bridge learns it
  }
  for (const Entry& e : entries_) {
    if (e.spec.id == spec.id) {
      if (e.spec == spec) {
        a.kind = Admission::Kind::Existing;
        a.slot = e.slot;
        a.spec = std::move(spec);
        return a;
      }
      return absl::AlreadyExistsError(
          strCat("id: port \"", spec.id, "\" exists with a different configuration"));
    }
    if (e.spec.socket_path == spec.socket_path) {
      return absl::AlreadyExistsError(strCat("socket_path: \"", spec.socket_path,
                                             "\" is already used by port \"", e.spec.id, "\""));
    }
    if (e.network != a.network) continue;
    for (size_t i = 0; i < spec.ips.size(); ++i) {
      const std::string_view addr = addressOf(spec.ips[i]);
      for (const std::string& other : e.spec.ips) {
        if (addressOf(other) == addr) {
          return absl::AlreadyExistsError(
              strCat("ips[", i, "]: ", addr, " is already used by port \"", e.spec.id, "\""));
        }
      }
    }
    switch (net->mode) {
      case NetworkMode::Vpc:
        if (absl::Status s = checkLinkLocals(spec, e.spec); !s.ok()) return s;
        break;
      case NetworkMode::L2:
        break;  // pods have their own MACs and link-local addresses
    }
  }
  if (entries_.size() >= max_ports_) {
    return absl::ResourceExhaustedError(
        strCat("all ", max_ports_, " ports are in use (dataplane.maxPorts)"));
  }
  for (uint16_t s = 0; s < kMaxSlots; ++s) {
    if (closing_[s] && *closing_[s] == spec.socket_path) {
      a.kind = Admission::Kind::WaitForClose;
      a.slot = s;
      a.spec = std::move(spec);
      return a;
    }
  }
  const std::optional<uint16_t> slot = freeSlot();
  if (!slot) {
    return absl::ResourceExhaustedError(strCat("all ", kMaxSlots, " port slots are in use"));
  }
  a.kind = Admission::Kind::New;
  a.slot = *slot;
  a.spec = std::move(spec);
  return a;
}

void PortTable::insert(uint16_t slot, size_t network, PortSpec spec) {
  used_[slot] = true;
  entries_.push_back(Entry{.slot = slot, .network = network, .spec = std::move(spec)});
}

PortTable::Match PortTable::find(std::string_view id, std::string_view uid) const {
  for (const Entry& e : entries_) {
    if (e.spec.id != id) continue;
    if (!uid.empty() && e.spec.uid != uid) {
      return Match{.kind = Match::Kind::OtherIncarnation, .slot = e.slot};
    }
    return Match{.kind = Match::Kind::Found, .slot = e.slot};
  }
  return Match{};
}

void PortTable::beginClose(uint16_t slot) {
  const auto it = std::find_if(entries_.begin(), entries_.end(),
                               [&](const Entry& e) { return e.slot == slot; });
  if (it == entries_.end()) return;
  closing_[slot] = it->spec.socket_path;
  entries_.erase(it);
}

void PortTable::finishClose(uint16_t slot) {
  closing_[slot].reset();
  used_[slot] = false;
}

std::optional<uint16_t> PortTable::freeSlot() const {
  for (uint16_t s = 0; s < kMaxSlots; ++s) {
    if (!used_[s] && !reserved_[s] && !closing_[s]) return s;
  }
  return std::nullopt;
}

const PortTable::Entry* PortTable::at(uint16_t slot) const {
  for (const Entry& e : entries_) {
    if (e.slot == slot) return &e;
  }
  return nullptr;
}

std::vector<PortSpec> PortTable::specs() const {
  std::vector<PortSpec> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(e.spec);
  return out;
}

uint32_t PortTable::countInNetwork(size_t network) const {
  return static_cast<uint32_t>(std::count_if(entries_.begin(), entries_.end(),
                                             [&](const Entry& e) { return e.network == network; }));
}

}  // namespace enadpdk::vhostuser
