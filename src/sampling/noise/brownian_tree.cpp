// torchsde BrownianTree / BrownianInterval and NumPy SeedSequence (sampling-noise.md N4), plus
// k-diffusion's BatchedBrownianTree / BrownianTreeNoiseSampler on top (N3.2).
#include "sampling/noise/brownian_tree.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#ifdef COMFY_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "comfy/core/error.hpp"
#include "comfy/sampling/sampler.hpp"
#include "sampling/fused.hpp"

namespace comfy::brownian {

// ---- NumPy SeedSequence (numpy/random/bit_generator.pyx), all arithmetic mod 2^32.
namespace {
constexpr uint32_t kInitA = 0x43b0d7e5, kMultA = 0x931e8875, kInitB = 0x8b51f9dd, kMultB = 0x58f38ded;
constexpr uint32_t kMixMultL = 0xca01f9dd, kMixMultR = 0x4973f715;
constexpr int kXShift = 16;

void append_words(uint64_t n, std::vector<uint32_t>& out) {
  // Little-endian base-2^32 digits; 0 is the single word [0].
  do {
    out.push_back(static_cast<uint32_t>(n & 0xffffffffu));
    n >>= 32;
  } while (n != 0);
}
}  // namespace

std::vector<uint32_t> seed_sequence_state(uint64_t entropy, const std::vector<uint64_t>& spawn_key, size_t n_words,
                                          size_t pool_size) {
  std::vector<uint32_t> ent;
  append_words(entropy, ent);
  std::vector<uint32_t> sk;
  for (uint64_t k : spawn_key) append_words(k, sk);
  if (!sk.empty() && ent.size() < pool_size) ent.resize(pool_size, 0u);
  ent.insert(ent.end(), sk.begin(), sk.end());

  uint32_t h = kInitA;
  auto hashmix = [&h](uint32_t v) {
    v ^= h;
    h *= kMultA;
    v *= h;
    v ^= v >> kXShift;
    return v;
  };
  auto mix = [](uint32_t a, uint32_t b) {
    uint32_t r = a * kMixMultL - b * kMixMultR;
    return r ^ (r >> kXShift);
  };
  std::vector<uint32_t> pool(pool_size);
  for (size_t i = 0; i < pool_size; ++i) pool[i] = hashmix(i < ent.size() ? ent[i] : 0u);
  for (size_t s = 0; s < pool_size; ++s)
    for (size_t d = 0; d < pool_size; ++d)
      if (s != d) {
        uint32_t hs = hashmix(pool[s]);  // evaluated before the mix
        pool[d] = mix(pool[d], hs);
      }
  for (size_t s = pool_size; s < ent.size(); ++s)
    for (size_t d = 0; d < pool_size; ++d) {
      uint32_t hs = hashmix(ent[s]);
      pool[d] = mix(pool[d], hs);
    }

  std::vector<uint32_t> out(n_words);
  uint32_t g = kInitB;
  for (size_t k = 0; k < n_words; ++k) {
    uint32_t v = pool[k % pool_size];
    v ^= g;
    g *= kMultB;
    v *= g;
    v ^= v >> kXShift;
    out[k] = v;
  }
  return out;
}

double round6(double v) {
  if (!std::isfinite(v)) return v;
  // glibc printf rounds the exact binary value correctly (ties to even), as Python's round does.
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return std::strtod(buf, nullptr);
}

// ---- the tree
struct BrownianTree::Node {
  double start, end, mid;
  uint64_t key;
  uint64_t depth;
  Node* parent;
  bool is_left;
  std::unique_ptr<Node> left, right;
};

BrownianTree::BrownianTree(double t0, double t1, std::vector<int64_t> shape, at::Device device, uint64_t entropy)
    : shape_(std::move(shape)), device_(device), entropy_(entropy) {
  int64_t numel = 1;
  for (int64_t d : shape_) numel *= d;
  const size_t entry_bytes = static_cast<size_t>(std::max<int64_t>(numel, 1)) * sizeof(float);
  cache_size_ = std::clamp<size_t>((size_t{512} << 20) / entry_bytes, 48, 128);
  root_ = std::make_unique<Node>();
  root_->start = round6(t0);
  root_->end = round6(t1);
  root_->mid = round6(0.5 * (root_->end + root_->start));
  root_->key = 0;
  root_->depth = 0;
  root_->parent = nullptr;
  root_->is_left = false;
  // (W, H, A) seeds; H and A are unused without Levy area (their draws use private generators).
  auto seeds = seed_sequence_state(entropy_, {}, 3);
  // sqrt over the unrounded endpoints, in double, applied as an f32 multiply.
  w_root_ = randn(seeds[0]) * std::sqrt(t1 - t0);
}

BrownianTree::~BrownianTree() = default;

at::Tensor BrownianTree::randn(uint32_t seed) const {
  ++draws_;
  auto options = at::TensorOptions().dtype(at::kFloat).device(device_);
  if (device_.is_cpu()) return at::randn(shape_, at::detail::createCPUGenerator(seed), options);
#ifdef COMFY_WITH_CUDA
  if (device_.is_cuda()) {
    at::Generator g = at::cuda::detail::createCUDAGenerator(device_.index());
    g.set_current_seed(seed);
    return at::randn(shape_, g, options);
  }
#endif
  throw Error("execution_error", "BrownianTree: no private generator for device " + device_.str());
}

BrownianTree::Node* BrownianTree::child(Node* n, bool right) {
  if (!n->left) {
    auto make = [n](double s, double e, bool is_left) {
      auto c = std::make_unique<Node>();
      c->start = s;
      c->end = e;
      c->mid = round6(0.5 * (e + s));
      c->key = 2 * n->key + (is_left ? 0 : 1);
      c->depth = n->depth + 1;
      c->parent = n;
      c->is_left = is_left;
      return c;
    };
    n->left = make(n->start, n->mid, true);
    n->right = make(n->mid, n->end, false);
  }
  return right ? n->right.get() : n->left.get();
}

void BrownianTree::remember(Node* n, at::Tensor w) {
  auto it = cache_.find(n);
  if (it != cache_.end()) {
    lru_.erase(it->second.second);
    cache_.erase(it);
  }
  lru_.push_front(n);
  cache_.emplace(n, std::make_pair(std::move(w), lru_.begin()));
  while (cache_.size() > cache_size_) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

const at::Tensor& BrownianTree::W(Node* n) {
  if (n == root_.get()) return w_root_;
  auto it = cache_.find(n);
  if (it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return it->second.first;
  }
  // Brownian bridge split of the parent (N4.3); both children are produced from one draw.
  Node* p = n->parent;
  at::Tensor wp = W(p);  // a handle: the cache may evict the parent below
  const uint32_t seed = seed_sequence_state(entropy_, {p->key, p->depth}, 4)[0];
  const double hr = 1.0 / (p->end - p->start);
  const double ld = p->mid - p->start;
  const double rd = p->end - p->mid;
  const double var = ld * rd * hr;
  at::Tensor z = randn(seed);
  at::Tensor w_left, w_right;
  if (fused::same_cpu_f32(wp, z)) {
    // The four tensor ops below, fused into one pass: the same float32 operations in the same
    // order (python floats act as float32 scalars), so bit-identical, without four temporaries.
    w_left = at::empty_like(wp);
    w_right = at::empty_like(wp);
    const float ldf = float(ld), hrf = float(hr), sdf = float(std::sqrt(var));
    const float* __restrict a = wp.data_ptr<float>();
    const float* __restrict zz = z.data_ptr<float>();
    float* __restrict l = w_left.data_ptr<float>();
    float* __restrict r = w_right.data_ptr<float>();
    for (int64_t i = 0, n = wp.numel(); i < n; ++i) {
      const float mean = (a[i] * ldf) * hrf;
      const float noise = zz[i] * sdf;
      l[i] = mean + noise;
      r[i] = a[i] - l[i];
    }
  } else {
    at::Tensor mean = (wp * ld) * hr;
    w_left = mean + z * std::sqrt(var);
    w_right = wp - w_left;
  }
  remember(p->left.get(), w_left);
  remember(p->right.get(), w_right);
  return cache_.at(n).first;
}

void BrownianTree::decompose(Node* n, double a, double b, std::vector<Node*>& out) {
  while (true) {
    if (a == n->start && b == n->end) {
      out.push_back(n);
      return;
    }
    const double m = n->mid;
    if (b <= m) {
      n = child(n, false);
    } else if (a >= m) {
      n = child(n, true);
    } else {
      decompose(child(n, false), a, m, out);
      n = child(n, true);
      a = m;
    }
  }
}

at::Tensor BrownianTree::increment(double ta, double tb) {
  const double lo = root_->start, hi = root_->end;
  if (ta < lo || tb < lo || ta > hi || tb > hi) {
    // torchsde warns and clamps. Sigmas at the ends of the range routinely exceed the rounded root by
    // less than the 1e-6 grid; only report real excursions.
    if (ta < lo - 1e-6 || tb < lo - 1e-6 || ta > hi + 1e-6 || tb > hi + 1e-6)
      std::cerr << "warning: BrownianTree query [" << ta << ", " << tb << "] clamped to [" << lo << ", " << hi << "]\n";
    ta = std::min(std::max(ta, lo), hi);
    tb = std::min(std::max(tb, lo), hi);
  }
  if (ta > tb) throw Error("execution_error", "BrownianTree: query times must respect ta <= tb");
  auto zeros = [&] { return at::zeros(shape_, at::TensorOptions().dtype(at::kFloat).device(device_)); };
  if (ta == tb) return zeros();
  const double a = round6(ta), b = round6(tb);
  if (a == b) {
    // torchsde recurses forever here (RecursionError); we return no noise instead (N4.4).
    std::cerr << "warning: BrownianTree query endpoints " << ta << " and " << tb
              << " are closer than its 1e-6 resolution; returning zero noise\n";
    return zeros();
  }
  std::vector<Node*> pieces;
  decompose(root_.get(), a, b, pieces);
  at::Tensor w = W(pieces[0]);
  if (pieces.size() == 1) return w;
  if (fused::cpu_f32(w)) {
    // ((W0 + W1) + W2) + ... in one pass, element by element in the same order as the tensor adds.
    std::vector<at::Tensor> parts{w};  // handles: a later W() may evict an earlier piece from the cache
    for (size_t k = 1; k < pieces.size(); ++k) parts.push_back(W(pieces[k]));
    at::Tensor out = w.clone();
    float* __restrict o = out.data_ptr<float>();
    const int64_t n = w.numel();
    for (size_t k = 1; k < parts.size(); ++k) {
      const float* __restrict src = parts[k].data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) o[i] += src[i];
    }
    return out;
  }
  for (size_t k = 1; k < pieces.size(); ++k) w = w + W(pieces[k]);
  return w;
}

}  // namespace comfy::brownian

namespace comfy {
namespace {

// k-diffusion BrownianTreeNoiseSampler over BatchedBrownianTree with one seed (N3.2).
class BrownianTreeNoiseSampler final : public NoiseSampler {
 public:
  BrownianTreeNoiseSampler(const at::Tensor& x, float sigma_min, float sigma_max, uint64_t seed, bool cpu)
      : device_(x.device()), dtype_(x.scalar_type()) {
    float t0 = sigma_min, t1 = sigma_max;
    sign_ = 1;
    if (!(t0 < t1)) {
      std::swap(t0, t1);
      sign_ = -1;
    }
    at::Device tree_dev = cpu ? at::Device(at::kCPU) : device_;
    tree_ = std::make_unique<brownian::BrownianTree>(static_cast<double>(t0), static_cast<double>(t1),
                                                     x.sizes().vec(), tree_dev, seed);
  }

  at::Tensor operator()(float sigma, float sigma_next) override {
    float a = sigma, b = sigma_next;
    int sign = 1;
    if (!(a < b)) {
      std::swap(a, b);
      sign = -1;
    }
    at::Tensor w = tree_->increment(static_cast<double>(a), static_cast<double>(b));
    w = w.to(device_, dtype_) * (sign_ * sign);
    // (t1 - t0).abs().sqrt() on the f32 sigmas as given (sigma_next - sigma).
    const float scale = std::sqrt(std::fabs(sigma_next - sigma));
    return w / scale;
  }

 private:
  at::Device device_;
  at::ScalarType dtype_;
  int sign_;
  std::unique_ptr<brownian::BrownianTree> tree_;
};

}  // namespace

std::unique_ptr<NoiseSampler> make_brownian_noise_sampler(const at::Tensor& x, float sigma_min, float sigma_max,
                                                          uint64_t seed, bool cpu) {
  return std::make_unique<BrownianTreeNoiseSampler>(x, sigma_min, sigma_max, seed, cpu);
}

}  // namespace comfy
