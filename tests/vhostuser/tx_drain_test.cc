// The worker's TX drain decision (vhostuser/tx_drain.h) pass by pass with made-up TSC values:
// the interval from microseconds, hand-picked pass sequences, and every sequence of six passes
// (three spacings, nothing held / held after a busy poll / after an idle one, six intervals)
// checked against the rules written down independently of the implementation.
#include "vhostuser/tx_drain.h"

#include <gtest/gtest.h>

#include <cctype>
#include <climits>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace enadpdk::vhostuser {
namespace {

// ---- the interval

struct IntervalCase {
  unsigned microseconds;
  uint64_t tsc_hz;
  uint64_t cycles;
};

TEST(TxDrainTest, IntervalFromMicroseconds) {
  const IntervalCase cases[] = {
      {0, 2'500'000'000, 0},  // flush every pass, whatever the TSC
      {1, 2'500'000'000, 2'500},
      {100, 2'500'000'000, 250'000},  // l2fwd's BURST_TX_DRAIN_US
      {1000, 3'000'000'000, 3'000'000},
      // Whole cycles per microsecond, rounded up: never shorter than asked.
      {1, 999'999, 1},
      {7, 1'000'001, 14},
      // Any unsigned value, on a fast TSC, without overflow.
      {UINT_MAX, 10'000'000'000, uint64_t{UINT_MAX} * 10'000},
  };
  for (const IntervalCase& c : cases) {
    EXPECT_EQ(TxDrain::fromMicroseconds(c.microseconds, c.tsc_hz).cycles(), c.cycles)
        << c.microseconds << " us at " << c.tsc_hz << " Hz";
  }
  EXPECT_EQ(TxDrain().cycles(), 0u) << "the default flushes every pass";
}

// ---- hand-picked pass sequences

struct Pass {
  uint64_t now;   // TSC at the start of the pass
  bool buffered;  // packets in some TX buffer after polling
  bool idle;      // the pass received nothing
  bool flush;     // expected decision
};

struct SequenceCase {
  std::string description;
  uint64_t cycles;
  std::vector<Pass> passes;
};

// gtest prints a case by its description (else as bytes).
void PrintTo(const SequenceCase& c, std::ostream* os) { *os << c.description; }

class TxDrainSequenceTest : public ::testing::TestWithParam<SequenceCase> {};

TEST_P(TxDrainSequenceTest, DecidesEachPass) {
  TxDrain drain(GetParam().cycles);
  for (size_t i = 0; i < GetParam().passes.size(); ++i) {
    const Pass& p = GetParam().passes[i];
    EXPECT_EQ(drain.endOfPass(p.buffered, p.now, p.idle), p.flush) << "pass " << i;
  }
}

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

const SequenceCase kSequences[] = {
    {"interval 0 flushes every pass that holds packets, busy or idle",
     0,
     {{0, true, false, true},
      {0, true, false, true},
      {10, false, true, false},
      {20, true, true, true},
      {30, true, false, true}}},
    {"nothing buffered is never flushed, idle or not",
     100,
     {{0, false, false, false}, {500, false, true, false}, {1000, false, false, false}}},
    {"an idle pass flushes at once, however young the packets",
     1'000'000,
     {{0, true, true, true}, {1, true, false, false}, {2, true, true, true}}},
    {"a busy worker holds until the interval has passed since the pass that first held",
     100,
     {{1000, true, false, false},
      {1050, true, false, false},
      {1099, true, false, false},
      {1100, true, false, true},
      // The next hold counts from its own first pass.
      {1110, true, false, false},
      {1209, true, false, false},
      {1210, true, false, true}}},
    {"after an idle flush the clock starts again",
     100,
     {{0, true, false, false},
      {50, true, true, true},
      {60, true, false, false},
      {159, true, false, false},
      {160, true, false, true}}},
    {"a pass that ends with nothing buffered forgets the earlier hold",
     100,
     {{0, true, false, false},
      {50, false, false, false},
      {60, true, false, false},
      {159, true, false, false},
      {160, true, false, true}}},
    {"an interval across the TSC's wrap",
     100,
     {{kMax - 10, true, false, false}, {88, true, false, false}, {89, true, false, true}}},
    {"a TSC that goes backwards flushes rather than holds",
     100,
     {{1000, true, false, false}, {999, true, false, true}}},
};

INSTANTIATE_TEST_SUITE_P(Cases, TxDrainSequenceTest, ::testing::ValuesIn(kSequences),
                         [](const ::testing::TestParamInfo<SequenceCase>& param) {
                           std::string name;
                           for (char c : param.param.description) {
                             name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return name;
                         });

// ---- every sequence against the rules

// The rules, as docs/dataplane.md states them, for one pass given when the oldest packet still
// held was buffered (`oldest`: the start of the first pass since the last flush, or since the
// last pass with nothing buffered, that ended with something buffered).
// - Nothing buffered: nothing to flush.
// - Buffered and idle: flush.
// - Buffered and busy: flush exactly when the oldest has waited the interval.
bool expectedFlush(const Pass& p, uint64_t oldest, uint64_t cycles) {
  if (!p.buffered) return false;
  if (p.idle) return true;
  return p.now - oldest >= cycles;
}

// Passes are 0, 30 or 70 cycles apart and each holds nothing, or holds packets after a busy or an
// idle poll: 9 choices per pass.
constexpr uint64_t kSteps[] = {0, 30, 70};
constexpr int kChoices = 9;
constexpr int kPasses = 6;

Pass passOf(int choice, uint64_t now) {
  return Pass{.now = now, .buffered = choice % 3 != 0, .idle = choice % 3 == 2, .flush = false};
}

// The passes of sequence `code`, for a failure message.
std::string describe(int code) {
  std::string out;
  uint64_t now = 5000;
  for (int i = 0; i < kPasses; ++i, code /= kChoices) {
    const Pass p = passOf(code % kChoices, now += kSteps[code % kChoices / 3]);
    out += " (" + std::to_string(p.now) + (p.buffered ? (p.idle ? " idle" : " busy") : " -") + ")";
  }
  return out;
}

TEST(TxDrainTest, EverySequenceOfSixPassesFollowsTheRules) {
  constexpr uint64_t kIntervals[] = {0, 1, 30, 60, 100, 1000};
  int total = 1;
  for (int i = 0; i < kPasses; ++i) total *= kChoices;
  int sequences = 0, holds = 0, busy_flushes = 0;
  for (uint64_t cycles : kIntervals) {
    for (int code = 0; code < total; ++code) {
      TxDrain drain(cycles);
      uint64_t now = 5000;
      std::optional<uint64_t> oldest;  // start of the pass that first held what is held now
      for (int i = 0, rest = code; i < kPasses; ++i, rest /= kChoices) {
        const Pass p = passOf(rest % kChoices, now += kSteps[rest % kChoices / 3]);
        if (!p.buffered) oldest.reset();
        if (p.buffered && !oldest) oldest = p.now;
        const bool want = expectedFlush(p, oldest.value_or(p.now), cycles);
        ASSERT_EQ(drain.endOfPass(p.buffered, p.now, p.idle), want)
            << "interval " << cycles << ", pass " << i << " of" << describe(code);
        if (want) {
          busy_flushes += !p.idle;
          oldest.reset();
        } else if (p.buffered) {
          ++holds;
          // Never late: what is held has waited less than the interval.
          ASSERT_LT(p.now - *oldest, cycles) << "pass " << i << " of" << describe(code);
        }
      }
      ++sequences;
    }
  }
  EXPECT_EQ(sequences, 6 * 531441);
  // Both ways of a busy pass occur, so neither rule went unexercised.
  EXPECT_GT(holds, 0);
  EXPECT_GT(busy_flushes, 0);
}

}  // namespace
}  // namespace enadpdk::vhostuser
