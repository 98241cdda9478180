#include "tests/support/fake_imds.h"

#include <httplib.h>

#include <charconv>
#include <chrono>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/strings.h"

namespace enadpdk::testing {
namespace {

constexpr char kMetadataPrefix[] = "/latest/meta-data/";

std::string joinLines(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) out = out.empty() ? v : out + "\n" + v;
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeImds>> FakeImds::start() {
  std::unique_ptr<FakeImds> self(new FakeImds());
  self->server_ = std::make_unique<httplib::Server>();
  FakeImds* fake = self.get();
  self->server_->Put(
      "/latest/api/token", [fake](const httplib::Request& req, httplib::Response& res) {
        absl::MutexLock lock(&fake->mu_);
        ++fake->tokenRequests_;
        fake->record(req);
        fake->stall();
        if (fake->stopping_) return;
        if (fake->failStatus_) {
          res.status = *fake->failStatus_;
          return;
        }
        const std::string ttl = req.get_header_value("X-aws-ec2-metadata-token-ttl-seconds");
        unsigned seconds = 0;
        auto [end, error] = std::from_chars(ttl.data(), ttl.data() + ttl.size(), seconds);
        if (ttl.empty() || error != std::errc() || end != ttl.data() + ttl.size() || seconds < 1 ||
            seconds > 21600) {
          res.status = 400;
          return;
        }
        std::string token = fake->tokenOverride_
                                ? *fake->tokenOverride_
                                : common::strCat("fake-token-", fake->tokens_.size() + 1);
        fake->tokens_.insert(token);
        res.set_content(token, "text/plain");
      });
  self->server_->Get(
      R"(/latest/meta-data/(.*))", [fake](const httplib::Request& req, httplib::Response& res) {
        absl::MutexLock lock(&fake->mu_);
        const std::string path = req.path.substr(std::string_view(kMetadataPrefix).size());
        ++fake->totalGets_;
        ++fake->getRequests_[path];
        fake->record(req);
        fake->stall();
        if (fake->stopping_) return;
        if (fake->failStatus_) {
          res.status = *fake->failStatus_;
          return;
        }
        if (fake->tokens_.count(req.get_header_value("X-aws-ec2-metadata-token")) == 0) {
          ++fake->unauthorized_;
          res.status = 401;
          return;
        }
        if (fake->endlessPath_ == path) {
          // Runs on the handler thread after this returns, without the lock held.
          res.set_chunked_content_provider("text/plain", [fake](std::size_t /*offset*/,
                                                                httplib::DataSink& sink) {
            const std::string chunk(64 * 1024, 'A');
            return fake->countEndlessChunk(chunk.size()) && sink.write(chunk.data(), chunk.size());
          });
          return;
        }
        auto it = fake->bodies_.find(path);
        if (it == fake->bodies_.end()) {
          res.status = 404;
          return;
        }
        res.set_content(it->second, "text/plain");
      });
  self->port_ = self->server_->bind_to_any_port("127.0.0.1");
  if (self->port_ <= 0) return absl::UnavailableError("fake IMDS: cannot listen on 127.0.0.1");
  self->thread_ = std::thread([server = self->server_.get()] { server->listen_after_bind(); });
  // stop() is lost if it runs before the listen loop starts; wait for the loop (bounded).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!self->server_->is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::UnavailableError("fake IMDS: listen loop did not start");
    }
    std::this_thread::yield();
  }
  return self;
}

FakeImds::~FakeImds() {
  {
    // Releases held requests and ends endless bodies, so that the server's threads can finish.
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeImds::endpoint() const { return common::strCat("http://127.0.0.1:", port_); }

void FakeImds::set(const std::string& path, const std::string& body) {
  absl::MutexLock lock(&mu_);
  bodies_[path] = body;
}

void FakeImds::remove(const std::string& path) {
  absl::MutexLock lock(&mu_);
  bodies_.erase(path);
}

void FakeImds::addEni(const FakeEni& eni) {
  const std::string base = "network/interfaces/macs/" + eni.mac + "/";
  set(base + "device-number", std::to_string(eni.deviceNumber));
  set(base + "local-ipv4s", joinLines(eni.localIpv4s));
  set(base + "subnet-ipv4-cidr-block", eni.subnetIpv4Cidr);
  if (!eni.ipv6s.empty()) set(base + "ipv6s", joinLines(eni.ipv6s));
  if (!eni.subnetIpv6Cidrs.empty()) {
    set(base + "subnet-ipv6-cidr-blocks", joinLines(eni.subnetIpv6Cidrs));
  }
  if (!eni.ipv4Prefixes.empty()) set(base + "ipv4-prefix", joinLines(eni.ipv4Prefixes));
  if (!eni.ipv6Prefixes.empty()) set(base + "ipv6-prefix", joinLines(eni.ipv6Prefixes));
  absl::MutexLock lock(&mu_);
  std::string& macs = bodies_["network/interfaces/macs/"];
  macs = macs.empty() ? eni.mac + "/" : macs + "\n" + eni.mac + "/";
}

void FakeImds::failWith(std::optional<int> status) {
  absl::MutexLock lock(&mu_);
  failStatus_ = status;
}

void FakeImds::hang(bool on) {
  absl::MutexLock lock(&mu_);
  hanging_ = on;
}

void FakeImds::delayEach(std::chrono::milliseconds delay) {
  absl::MutexLock lock(&mu_);
  delay_ = delay;
}

void FakeImds::endlessBody(std::optional<std::string> path) {
  absl::MutexLock lock(&mu_);
  endlessPath_ = std::move(path);
}

void FakeImds::setToken(std::optional<std::string> token) {
  absl::MutexLock lock(&mu_);
  tokenOverride_ = std::move(token);
}

void FakeImds::record(const httplib::Request& req) {
  FakeImdsRequest& request = requests_.emplace_back();
  request.method = req.method;
  request.path = req.path;
  for (const auto& [name, value] : req.headers) request.headers.emplace_back(name, value);
}

void FakeImds::stall() {
  mu_.Await(absl::Condition(this, &FakeImds::released));
  if (delay_.count() > 0 && !stopping_) {
    // Returns early when the fake stops; mu_ is released while waiting.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(delay_));
  }
}

unsigned FakeImds::tokenRequests() const {
  absl::MutexLock lock(&mu_);
  return tokenRequests_;
}

unsigned FakeImds::getRequests(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  auto it = getRequests_.find(path);
  return it == getRequests_.end() ? 0 : it->second;
}

unsigned FakeImds::totalGetRequests() const {
  absl::MutexLock lock(&mu_);
  return totalGets_;
}

unsigned FakeImds::unauthorizedRequests() const {
  absl::MutexLock lock(&mu_);
  return unauthorized_;
}

bool FakeImds::countEndlessChunk(std::size_t bytes) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  endlessBytes_ += bytes;
  return true;
}

std::vector<FakeImdsRequest> FakeImds::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

std::size_t FakeImds::endlessBytesSent() const {
  absl::MutexLock lock(&mu_);
  return endlessBytes_;
}

}  // namespace enadpdk::testing
