// The device-ID format "<network>-<NN>" (common/device_id.h): what the device plugin advertises
// is what the CNI reads back.

#include "common/device_id.h"

#include <gtest/gtest.h>

namespace enadpdk::common {
namespace {

TEST(DeviceIdTest, FormatsTwoDigitSlots) {
  EXPECT_EQ(formatDeviceId("vpc-a", 0), "vpc-a-00");
  EXPECT_EQ(formatDeviceId("net1", 7), "net1-07");
  EXPECT_EQ(formatDeviceId("net1", kMaxDeviceSlots - 1), "net1-99");
}

TEST(DeviceIdTest, ParseReadsBackEveryFormattedId) {
  for (const char* network : {"a", "vpc-a", "net-1-2", "x0"}) {
    for (unsigned slot = 0; slot < kMaxDeviceSlots; ++slot) {
      const std::optional<DeviceId> id = parseDeviceId(formatDeviceId(network, slot));
      ASSERT_TRUE(id.has_value()) << network << " " << slot;
      EXPECT_EQ(*id, (DeviceId{.network = network, .slot = slot}));
    }
  }
}

TEST(DeviceIdTest, ParseRefusesWhatIsNotADeviceId) {
  for (const char* text : {"", "-00", "net", "net-", "net-0", "net-000", "net-0a", "net-a0",
                           "NET-00", "net_1-00", "net 1-00", "0000:00:06.0", "net-+1"}) {
    EXPECT_FALSE(parseDeviceId(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace enadpdk::common
