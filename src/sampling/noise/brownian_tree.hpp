#pragma once
// torchsde's BrownianTree (a BrownianInterval with halfway_tree, tol 1e-6, pool 24) and the NumPy
// SeedSequence it derives its per-node seeds from (sampling-noise.md N4). Internal to the engine;
// samplers reach it through make_brownian_noise_sampler.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

namespace comfy::brownian {

// numpy.random.SeedSequence(entropy, spawn_key, pool_size).generate_state(n_words) (uint32 words).
std::vector<uint32_t> seed_sequence_state(uint64_t entropy, const std::vector<uint64_t>& spawn_key, size_t n_words,
                                          size_t pool_size = 24);

// Python's round(v, 6): the double nearest to v correctly rounded to 6 decimals (ties to even).
double round6(double v);

// Brownian motion on [t0, t1] (t0 <= t1) sampled with the dyadic tree of N4.2-N4.4. The result of a
// query depends only on the seed, the endpoints and the shape, never on the order of queries.
class BrownianTree {
 public:
  BrownianTree(double t0, double t1, std::vector<int64_t> shape, at::Device device, uint64_t entropy);
  ~BrownianTree();
  // W(tb) - W(ta), f32 on the tree's device. Endpoints outside [t0, t1] are clamped (as torchsde does).
  at::Tensor increment(double ta, double tb);
  // Number of full-size normal draws made so far (one per node split, plus the root).
  int64_t draws() const { return draws_; }

 private:
  struct Node;
  at::Tensor randn(uint32_t seed) const;
  Node* child(Node* n, bool right);
  const at::Tensor& W(Node* n);
  void decompose(Node* n, double a, double b, std::vector<Node*>& out);
  void remember(Node* n, at::Tensor w);

  std::vector<int64_t> shape_;
  at::Device device_;
  uint64_t entropy_;
  std::unique_ptr<Node> root_;
  mutable int64_t draws_ = 0;
  at::Tensor w_root_;
  // Pure memoisation of node increments (torchsde keeps an LRU of 45). 128 entries keep the previous
  // query's paths, which halves the draws of a typical schedule; capped at ~512 MiB for huge latents.
  size_t cache_size_ = 128;
  std::list<Node*> lru_;
  std::unordered_map<Node*, std::pair<at::Tensor, std::list<Node*>::iterator>> cache_;
};

}  // namespace comfy::brownian
