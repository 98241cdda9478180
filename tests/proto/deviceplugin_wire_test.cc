// Proves the generated device-plugin code is wire-compatible with the kubelet's v1beta1 API:
// messages serialise to bytes hand-encoded from the field numbers in PROTOCOLS.md, and those
// bytes parse back into the expected fields.
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "deviceplugin/v1beta1/api.grpc.pb.h"
#include "deviceplugin/v1beta1/api.pb.h"

namespace {

// Minimal protobuf encoder, independent of the protobuf library, for fixtures.
std::string varint(uint64_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out.push_back(static_cast<char>(v ? (b | 0x80) : b));
  } while (v);
  return out;
}
std::string varintField(int field, uint64_t v) { return varint(field << 3 | 0) + varint(v); }
std::string lenField(int field, const std::string& payload) {
  return varint(field << 3 | 2) + varint(payload.size()) + payload;
}

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

TEST(DevicePluginWire, ListAndWatchResponseMatchesFixture) {
  const std::string numa = varintField(1, 1);          // NUMANode.ID = 1
  const std::string topology = lenField(1, numa);      // TopologyInfo.nodes
  const std::string device = lenField(1, "eni1-00") +  // Device.ID
                             lenField(2, "Healthy") +  // Device.health
                             lenField(3, topology);    // Device.topology
  const std::string fixture = lenField(1, device);     // ListAndWatchResponse.devices
  EXPECT_EQ(hex(fixture),
            "0a180a07656e69312d3030120748656"
            "16c7468791a040a020801");

  v1beta1::ListAndWatchResponse msg;
  auto* d = msg.add_devices();
  d->set_id("eni1-00");
  d->set_health("Healthy");
  d->mutable_topology()->add_nodes()->set_id(1);
  EXPECT_EQ(hex(msg.SerializeAsString()), hex(fixture));

  v1beta1::ListAndWatchResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(fixture));
  ASSERT_EQ(parsed.devices_size(), 1);
  EXPECT_EQ(parsed.devices(0).id(), "eni1-00");
  EXPECT_EQ(parsed.devices(0).health(), "Healthy");
  EXPECT_EQ(parsed.devices(0).topology().nodes(0).id(), 1);
}

TEST(DevicePluginWire, RegisterRequestMatchesFixture) {
  const std::string fixture = lenField(1, "v1beta1") + lenField(2, "ena-dpdk-ena.sock") +
                              lenField(3, "dpdk.aws/ena") +
                              lenField(4, varintField(2, 1));  // options.get_preferred_...=true
  v1beta1::RegisterRequest msg;
  msg.set_version("v1beta1");
  msg.set_endpoint("ena-dpdk-ena.sock");
  msg.set_resource_name("dpdk.aws/ena");
  msg.mutable_options()->set_get_preferred_allocation_available(true);
  EXPECT_EQ(hex(msg.SerializeAsString()), hex(fixture));

  v1beta1::RegisterRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(fixture + lenField(4, varintField(1, 1))));
  EXPECT_TRUE(parsed.options().pre_start_required());  // merged second occurrence
  EXPECT_TRUE(parsed.options().get_preferred_allocation_available());
}

TEST(DevicePluginWire, ContainerAllocateResponseMatchesFixture) {
  const std::string env_entry = lenField(1, "ENA_DPDK_DEVICES") + lenField(2, "eni1-00");
  const std::string mount = lenField(1, "/var/run/vhost-user/eni1-00") +
                            lenField(2, "/var/run/ena-dpdk/vhost/eni1-00") + varintField(3, 1);
  const std::string dev =
      lenField(1, "/dev/vfio/vfio") + lenField(2, "/dev/vfio/vfio") + lenField(3, "rw");
  const std::string annotation = lenField(1, "k") + lenField(2, "v");
  const std::string cdi = lenField(1, "dpdk.aws/ena-dedicated=0000:00:06.0");
  const std::string container = lenField(1, env_entry) + lenField(2, mount) + lenField(3, dev) +
                                lenField(4, annotation) + lenField(5, cdi);
  const std::string fixture = lenField(1, container);

  v1beta1::AllocateResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(fixture));
  ASSERT_EQ(parsed.container_responses_size(), 1);
  const auto& c = parsed.container_responses(0);
  EXPECT_EQ(c.envs().at("ENA_DPDK_DEVICES"), "eni1-00");
  EXPECT_EQ(c.mounts(0).container_path(), "/var/run/vhost-user/eni1-00");
  EXPECT_EQ(c.mounts(0).host_path(), "/var/run/ena-dpdk/vhost/eni1-00");
  EXPECT_TRUE(c.mounts(0).read_only());
  EXPECT_EQ(c.devices(0).permissions(), "rw");
  EXPECT_EQ(c.annotations().at("k"), "v");
  EXPECT_EQ(c.cdi_devices(0).name(), "dpdk.aws/ena-dedicated=0000:00:06.0");

  // Each map has one entry, so serialisation order is fixed and the bytes must match exactly.
  EXPECT_EQ(hex(parsed.SerializeAsString()), hex(fixture));
}

TEST(DevicePluginWire, AllocationRequestsMatchFixture) {
  const std::string pref =
      lenField(1, "a") + lenField(1, "b") + lenField(2, "a") + varintField(3, 2);
  v1beta1::PreferredAllocationRequest req;
  auto* c = req.add_container_requests();
  c->add_available_deviceids("a");
  c->add_available_deviceids("b");
  c->add_must_include_deviceids("a");
  c->set_allocation_size(2);
  EXPECT_EQ(hex(req.SerializeAsString()), hex(lenField(1, pref)));

  v1beta1::PreferredAllocationResponse resp;
  resp.add_container_responses()->add_deviceids("b");
  EXPECT_EQ(hex(resp.SerializeAsString()), hex(lenField(1, lenField(1, "b"))));

  v1beta1::AllocateRequest alloc;
  alloc.add_container_requests()->add_devices_ids("0000:00:06.0");
  EXPECT_EQ(hex(alloc.SerializeAsString()), hex(lenField(1, lenField(1, "0000:00:06.0"))));

  v1beta1::PreStartContainerRequest pre;
  pre.add_devices_ids("x");
  EXPECT_EQ(hex(pre.SerializeAsString()), hex(lenField(1, "x")));

  v1beta1::DevicePluginOptions opts;
  opts.set_pre_start_required(true);
  opts.set_get_preferred_allocation_available(true);
  EXPECT_EQ(hex(opts.SerializeAsString()), hex(varintField(1, 1) + varintField(2, 1)));
}

// The gRPC method paths the kubelet calls are /v1beta1.<Service>/<Method>.
TEST(DevicePluginWire, ServicesAndMethodsMatchKubelet) {
  EXPECT_STREQ(v1beta1::Registration::service_full_name(), "v1beta1.Registration");
  EXPECT_STREQ(v1beta1::DevicePlugin::service_full_name(), "v1beta1.DevicePlugin");
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* reg = pool->FindServiceByName("v1beta1.Registration");
  ASSERT_NE(reg, nullptr);
  ASSERT_NE(reg->FindMethodByName("Register"), nullptr);
  const auto* dp = pool->FindServiceByName("v1beta1.DevicePlugin");
  ASSERT_NE(dp, nullptr);
  struct {
    const char* name;
    bool server_streaming;
  } const kMethods[] = {{"GetDevicePluginOptions", false},
                        {"ListAndWatch", true},
                        {"GetPreferredAllocation", false},
                        {"Allocate", false},
                        {"PreStartContainer", false}};
  EXPECT_EQ(dp->method_count(), 5);
  for (const auto& m : kMethods) {
    const auto* method = dp->FindMethodByName(m.name);
    ASSERT_NE(method, nullptr) << m.name;
    EXPECT_EQ(method->server_streaming(), m.server_streaming) << m.name;
    EXPECT_FALSE(method->client_streaming()) << m.name;
  }
}

}  // namespace
