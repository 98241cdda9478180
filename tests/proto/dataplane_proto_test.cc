#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include "enadpdk/dataplane/v1/dataplane.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace {

namespace dp = enadpdk::dataplane::v1;

TEST(DataplaneProto, ServiceHasTheDesignedMethods) {
  EXPECT_STREQ(dp::Dataplane::service_full_name(), "enadpdk.dataplane.v1.Dataplane");
  const auto* svc = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      "enadpdk.dataplane.v1.Dataplane");
  ASSERT_NE(svc, nullptr);
  for (const char* m :
       {"AddPort", "DeletePort", "GetPort", "ListPorts", "ListNetworks", "GetStats"}) {
    EXPECT_NE(svc->FindMethodByName(m), nullptr) << m;
  }
  EXPECT_STREQ(grpc::health::v1::Health::service_full_name(), "grpc.health.v1.Health");
}

TEST(DataplaneProto, PortRoundTrips) {
  dp::Port port;
  port.set_id("c0ffee/net1");
  port.set_network("eni1");
  port.set_socket_path("/var/run/ena-dpdk/vhost/eni1-00/vhost.sock");
  port.set_vhost_mode(dp::VHOST_MODE_SERVER);
  port.set_mac("02:00:00:00:00:01");
  port.add_ips("10.0.1.23/24");
  port.set_queues(2);
  port.set_mtu(9001);
  dp::Port copy;
  ASSERT_TRUE(copy.ParseFromString(port.SerializeAsString()));
  EXPECT_EQ(copy.id(), "c0ffee/net1");
  EXPECT_EQ(copy.vhost_mode(), dp::VHOST_MODE_SERVER);
  EXPECT_EQ(copy.ips(0), "10.0.1.23/24");
  EXPECT_EQ(copy.mtu(), 9001u);
}

}  // namespace
