// numpy 1.17+ Generator(PCG64) seeded from SeedSequence (nodes-prompt.md 2.5): numpy's C code
// (bitgen PCG64 XSL-RR, distributions.c random_bounded_uint64 / random_interval, Generator.choice)
// followed step by step so every draw matches.
#include "comfy/prompt/numpy_random.hpp"

#include <cmath>
#include <limits>

namespace comfy::numpy {
namespace {

using u128 = unsigned __int128;

constexpr uint32_t kInitA = 0x43b0d7e5, kMultA = 0x931e8875, kInitB = 0x8b51f9dd, kMultB = 0x58f38ded;
constexpr uint32_t kMixMultL = 0xca01f9dd, kMixMultR = 0x4973f715;
constexpr size_t kPoolSize = 4;

uint32_t hashmix(uint32_t value, uint32_t& hash_const) {
  value ^= hash_const;
  hash_const *= kMultA;
  value *= hash_const;
  value ^= value >> 16;
  return value;
}
uint32_t mix(uint32_t x, uint32_t y) {
  uint32_t r = kMixMultL * x - kMixMultR * y;
  return r ^ (r >> 16);
}

// SeedSequence.mix_entropy over the seed's 32-bit words (little-endian, [0] for 0).
std::vector<uint32_t> seed_pool(uint64_t seed) {
  std::vector<uint32_t> entropy;
  if (seed == 0) entropy.push_back(0);
  for (uint64_t n = seed; n > 0; n >>= 32) entropy.push_back(static_cast<uint32_t>(n & 0xFFFFFFFFu));
  std::vector<uint32_t> pool(kPoolSize);
  uint32_t h = kInitA;
  for (size_t i = 0; i < kPoolSize; ++i) pool[i] = hashmix(i < entropy.size() ? entropy[i] : 0u, h);
  for (size_t src = 0; src < kPoolSize; ++src)
    for (size_t dst = 0; dst < kPoolSize; ++dst)
      if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src], h));
  for (size_t src = kPoolSize; src < entropy.size(); ++src)
    for (size_t dst = 0; dst < kPoolSize; ++dst) pool[dst] = mix(pool[dst], hashmix(entropy[src], h));
  return pool;
}

const u128 kPcgMult = (static_cast<u128>(0x2360ED051FC65DA4ULL) << 64) | 0x4385DF649FCCF645ULL;

// numpy's kahan_sum (the probability-sum check of choice).
double kahan_sum(const std::vector<double>& a) {
  if (a.empty()) return 0.0;
  double sum = a[0], c = 0.0;
  for (size_t i = 1; i < a.size(); ++i) {
    const double y = a[i] - c;
    const double t = sum + y;
    c = (t - sum) - y;
    sum = t;
  }
  return sum;
}

}  // namespace

std::vector<uint32_t> seed_sequence_state(uint64_t seed, size_t n_words) {
  const auto pool = seed_pool(seed);
  std::vector<uint32_t> out(n_words);
  uint32_t h = kInitB;
  for (size_t i = 0; i < n_words; ++i) {
    uint32_t v = pool[i % kPoolSize];
    v ^= h;
    h *= kMultB;
    v *= h;
    v ^= v >> 16;
    out[i] = v;
  }
  return out;
}

Generator::Generator(uint64_t seed) {
  // generate_state(4, uint64): 8 words viewed as 4 little-endian uint64; PCG64 takes (s0, s1) as the
  // 128-bit initial state (s0 high) and (s2, s3) as the stream.
  const auto w = seed_sequence_state(seed, 8);
  uint64_t v[4];
  for (int j = 0; j < 4; ++j) v[j] = static_cast<uint64_t>(w[2 * j]) | (static_cast<uint64_t>(w[2 * j + 1]) << 32);
  const u128 initstate = (static_cast<u128>(v[0]) << 64) | v[1];
  const u128 initseq = (static_cast<u128>(v[2]) << 64) | v[3];
  // pcg_setseq_128_srandom_r
  state_ = 0;
  inc_ = (initseq << 1) | 1;
  state_ = state_ * kPcgMult + inc_;
  state_ += initstate;
  state_ = state_ * kPcgMult + inc_;
}

uint64_t Generator::next64() {
  state_ = state_ * kPcgMult + inc_;
  const uint64_t x = static_cast<uint64_t>(state_ >> 64) ^ static_cast<uint64_t>(state_);
  const unsigned rot = static_cast<unsigned>(state_ >> 122);
  return (x >> rot) | (x << ((64 - rot) & 63));
}

uint32_t Generator::next32() {
  if (has32_) {
    has32_ = false;
    return buffered32_;
  }
  const uint64_t v = next64();
  has32_ = true;
  buffered32_ = static_cast<uint32_t>(v >> 32);
  return static_cast<uint32_t>(v & 0xFFFFFFFFu);
}

double Generator::random() { return static_cast<double>(next64() >> 11) * (1.0 / 9007199254740992.0); }

int64_t Generator::integers(int64_t lo, int64_t hi) {
  if (lo >= hi) throw ValueError("low >= high");
  const uint64_t rng = static_cast<uint64_t>(hi) - 1 - static_cast<uint64_t>(lo);
  const uint64_t off = static_cast<uint64_t>(lo);
  if (rng == 0) return lo;
  uint64_t r;
  if (rng <= 0xFFFFFFFFULL) {
    if (rng == 0xFFFFFFFFULL) {
      r = next32();
    } else {  // bounded_lemire_uint32
      const uint32_t excl = static_cast<uint32_t>(rng) + 1;
      uint64_t m = static_cast<uint64_t>(next32()) * excl;
      uint32_t leftover = static_cast<uint32_t>(m & 0xFFFFFFFFu);
      if (leftover < excl) {
        const uint32_t threshold = (0xFFFFFFFFu - static_cast<uint32_t>(rng)) % excl;
        while (leftover < threshold) {
          m = static_cast<uint64_t>(next32()) * excl;
          leftover = static_cast<uint32_t>(m & 0xFFFFFFFFu);
        }
      }
      r = m >> 32;
    }
  } else if (rng == std::numeric_limits<uint64_t>::max()) {
    r = next64();
  } else {  // bounded_lemire_uint64
    const uint64_t excl = rng + 1;
    u128 m = static_cast<u128>(next64()) * excl;
    uint64_t leftover = static_cast<uint64_t>(m);
    if (leftover < excl) {
      const uint64_t threshold = (std::numeric_limits<uint64_t>::max() - rng) % excl;
      while (leftover < threshold) {
        m = static_cast<u128>(next64()) * excl;
        leftover = static_cast<uint64_t>(m);
      }
    }
    r = static_cast<uint64_t>(m >> 64);
  }
  return static_cast<int64_t>(off + r);
}

uint64_t Generator::interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  for (int s = 1; s <= 32; s *= 2) mask |= mask >> s;
  uint64_t value;
  if (max <= 0xFFFFFFFFULL) {
    while ((value = (next32() & mask)) > max) {
    }
  } else {
    while ((value = (next64() & mask)) > max) {
    }
  }
  return value;
}

std::vector<size_t> Generator::choice_without_replacement(const std::vector<double>& p_in, size_t k) {
  const size_t n = p_in.size();
  if (n == 0 && k != 0) throw ValueError("a cannot be empty unless no samples are taken");
  const double atol = std::sqrt(std::numeric_limits<double>::epsilon());
  const double p_sum = kahan_sum(p_in);
  if (std::isnan(p_sum)) throw ValueError("probabilities contain NaN");
  for (double x : p_in)
    if (x < 0) throw ValueError("probabilities are not non-negative");
  if (std::fabs(p_sum - 1.0) > atol) throw ValueError("probabilities do not sum to 1");
  if (k > n) throw ValueError("Cannot take a larger sample than population when replace is False");
  size_t nonzero = 0;
  for (double x : p_in) nonzero += x > 0;
  if (nonzero < k) throw ValueError("Fewer non-zero entries in p than size");

  std::vector<double> p = p_in;
  std::vector<size_t> found;
  std::vector<double> cdf(n);
  while (found.size() < k) {
    std::vector<double> x(k - found.size());
    for (auto& v : x) v = random();
    for (size_t f : found) p[f] = 0.0;
    double acc = 0.0;
    for (size_t i = 0; i < n; ++i) cdf[i] = acc += p[i];
    const double last = cdf[n - 1];
    for (auto& c : cdf) c /= last;
    std::vector<bool> seen(n, false);
    for (double v : x) {  // searchsorted(side='right'), distinct values in order of first appearance
      size_t lo = 0, hi = n;
      while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (v < cdf[mid]) hi = mid; else lo = mid + 1;
      }
      const size_t idx = lo < n ? lo : n - 1;
      if (!seen[idx]) {
        seen[idx] = true;
        found.push_back(idx);
      }
    }
  }
  return found;
}

std::pair<uint64_t, uint64_t> Generator::state() const {
  return {static_cast<uint64_t>(state_ >> 64), static_cast<uint64_t>(state_)};
}
std::pair<uint64_t, uint64_t> Generator::increment() const {
  return {static_cast<uint64_t>(inc_ >> 64), static_cast<uint64_t>(inc_)};
}

}  // namespace comfy::numpy
