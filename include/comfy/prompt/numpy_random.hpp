#pragma once
// numpy's random Generator as Impact's wildcards use it (np.random.default_rng(seed): SeedSequence ->
// PCG64), reproduced bit for bit: raw draws, random(), integers() (Lemire), shuffle() of a Python list
// and choice(p=..., replace=False). Spec: nodes-prompt.md 2.5.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

namespace comfy::numpy {

// SeedSequence(seed).generate_state(n_words, uint32): the words PCG64 is seeded from.
std::vector<uint32_t> seed_sequence_state(uint64_t seed, size_t n_words);

// What numpy raises (ValueError) for a bad argument; the message is numpy's.
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// np.random.Generator(PCG64(seed)).
class Generator {
 public:
  explicit Generator(uint64_t seed);

  uint64_t next64();   // random_raw()
  uint32_t next32();   // half of a 64-bit draw; the other half is kept for the next call
  double random();     // [0, 1), 53 bits
  // integers(lo, hi): hi exclusive, int64; ValueError "low >= high" when lo >= hi.
  int64_t integers(int64_t lo, int64_t hi);
  // random_interval(max): uniform in [0, max] by masked rejection (shuffle's draw).
  uint64_t interval(uint64_t max);

  // shuffle(list): Fisher-Yates from the end, as for a Python list.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i-- > 1;) {
      const auto j = static_cast<size_t>(interval(i));
      std::swap(v[i], v[j]);
    }
  }
  // choice(n items, p=p, size=k, replace=False): the chosen indices in draw order. Checks p as numpy
  // does (NaN, negative, sum within sqrt(eps) of 1, enough non-zero entries) and throws ValueError.
  std::vector<size_t> choice_without_replacement(const std::vector<double>& p, size_t k);

  // The PCG64 state (128-bit state and increment as high/low words), for tests.
  std::pair<uint64_t, uint64_t> state() const;
  std::pair<uint64_t, uint64_t> increment() const;

 private:
  unsigned __int128 state_ = 0, inc_ = 0;
  bool has32_ = false;
  uint32_t buffered32_ = 0;
};

}  // namespace comfy::numpy
