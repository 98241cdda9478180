// The one error-code table of both plugins (cni/errors.h): distinct codes, every one documented,
// and the codes travelling inside absl::Status.

#include "cni/errors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/status/status.h"

namespace enadpdk::testing {
namespace {

using cni::CniError;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ErrorTableTest, CodesAreDistinctIncreasingAndOurOwn) {
  std::set<int> seen;
  int previous = 0;
  for (const cni::CustomErrorCode& row : cni::kCustomErrorCodes) {
    const int code = static_cast<int>(row.code);
    EXPECT_GE(code, 100) << "the spec reserves codes below 100";
    EXPECT_GT(code, previous) << "the table is in increasing order";
    EXPECT_TRUE(seen.insert(code).second) << code << " is in the table twice";
    EXPECT_FALSE(row.meaning.empty()) << code;
    EXPECT_TRUE(row.plugin == "both" || row.plugin == "ena-dpdk-cni" ||
                row.plugin == "ena-dpdk-ipam")
        << code << ": " << row.plugin;
    EXPECT_EQ(cni::findCustomErrorCode(row.code), &row);
    previous = code;
  }
  EXPECT_EQ(cni::findCustomErrorCode(CniError::kInvalidConfig), nullptr);
}

TEST(ErrorTableTest, ThePluginsCodesDoNotOverlap) {
  // ena-dpdk-cni passes an IPAM error's code on: the same number may not mean two things.
  for (CniError code : {CniError::kDataplaneRefused, CniError::kDeviceNotUsable,
                        CniError::kCheckFailed, CniError::kIpamFailed}) {
    EXPECT_EQ(cni::findCustomErrorCode(code)->plugin, "ena-dpdk-cni");
  }
  for (CniError code : {CniError::kMetadataError, CniError::kPoolExhausted,
                        CniError::kLeaseStoreError, CniError::kLeaseMismatch}) {
    EXPECT_EQ(cni::findCustomErrorCode(code)->plugin, "ena-dpdk-ipam");
  }
  EXPECT_EQ(static_cast<int>(CniError::kMetadataError), 111);
  EXPECT_EQ(static_cast<int>(CniError::kDataplaneRefused), 101);
  EXPECT_EQ(static_cast<int>(CniError::kInternalError), 199);
}

TEST(ErrorTableTest, EveryCodeIsDocumentedWithThePluginThatReturnsIt) {
  const std::string cniDoc = readFile(ENA_DPDK_DOCS_DIR "/cni.md");
  const std::string ipamDoc = readFile(ENA_DPDK_DOCS_DIR "/ipam.md");
  ASSERT_FALSE(cniDoc.empty());
  ASSERT_FALSE(ipamDoc.empty());
  for (const cni::CustomErrorCode& row : cni::kCustomErrorCodes) {
    const std::string cell = "| " + std::to_string(static_cast<int>(row.code)) + " |";
    if (row.plugin != "ena-dpdk-ipam") {
      EXPECT_NE(cniDoc.find(cell), std::string::npos) << "docs/cni.md lacks the row " << cell;
    }
    if (row.plugin != "ena-dpdk-cni") {
      EXPECT_NE(ipamDoc.find(cell), std::string::npos) << "docs/ipam.md lacks the row " << cell;
    }
  }
}

TEST(ErrorCodeStatusTest, TheCodeTravelsInsideTheStatus) {
  const absl::Status refused = cni::cniError(CniError::kDataplaneRefused, "no");
  EXPECT_EQ(refused.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(cni::cniCodeOf(refused), CniError::kDataplaneRefused);
  EXPECT_EQ(cni::cniError(CniError::kCheckFailed, "x").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cni::cniError(CniError::kInvalidConfig, "x").code(),
            absl::StatusCode::kInvalidArgument);

  const absl::Status exhausted =
      cni::cniError(absl::StatusCode::kResourceExhausted, "full", CniError::kPoolExhausted);
  EXPECT_EQ(exhausted.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(exhausted.message(), "full");
  EXPECT_EQ(cni::cniCodeOf(exhausted), CniError::kPoolExhausted);
  EXPECT_EQ(cni::cniCodeOf(exhausted, CniError::kInvalidConfig), CniError::kPoolExhausted);

  const absl::Status prefixed = cni::withPrefix(exhausted, "ipam plugin x: ");
  EXPECT_EQ(prefixed.message(), "ipam plugin x: full");
  EXPECT_EQ(cni::cniCodeOf(prefixed), CniError::kPoolExhausted);

  EXPECT_TRUE(cni::withCniCode(absl::OkStatus(), CniError::kLeaseStoreError).ok());
  EXPECT_EQ(cni::cniCodeOf(cni::withCniCode(absl::NotFoundError("x"), CniError::kLeaseStoreError)),
            CniError::kLeaseStoreError);
}

TEST(ErrorCodeStatusTest, WithoutACodeTheCanonicalCodeOrTheFallbackDecides) {
  EXPECT_EQ(cni::cniCodeOf(absl::InvalidArgumentError("x")), CniError::kInvalidConfig);
  EXPECT_EQ(cni::cniCodeOf(absl::UnavailableError("x")), CniError::kTryAgainLater);
  EXPECT_EQ(cni::cniCodeOf(absl::DeadlineExceededError("x")), CniError::kTryAgainLater);
  EXPECT_EQ(cni::cniCodeOf(absl::InternalError("x")), CniError::kIoFailure);
  EXPECT_EQ(cni::cniCodeOf(absl::InternalError("x"), CniError::kLeaseMismatch),
            CniError::kLeaseMismatch);
}

}  // namespace
}  // namespace enadpdk::testing
