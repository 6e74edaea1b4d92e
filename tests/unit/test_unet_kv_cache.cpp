// The UNet's cross-attention K/V cache: a repeated context reads its keys and values back, and the
// result is bit for bit what a fresh model computes; any other context (a new one, the same tensor
// changed in place, another batch) is computed afresh, never served stale values.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "comfy/models/checkpoint.hpp"
#include "comfy/models/model.hpp"
#include "comfy/models/unet.hpp"
#include "test_util.hpp"

using namespace comfy;

namespace {
std::shared_ptr<UNetModel> tiny_unet() {
  RuntimeConfig cfg;
  auto ck = load_checkpoint(test::golden_root() / "nets" / "tiny-sd15.safetensors", cfg, false, false);
  auto u = std::dynamic_pointer_cast<UNetModel>(ck.model->net);
  EXPECT_TRUE(u);
  return u;
}
}  // namespace

TEST(UNetKVCache, RepeatedContextGivesTheFreshResultAndOtherContextsAreRecomputed) {
  const char* off = std::getenv("COMFY_KV_CACHE");
  if (off && std::string(off) == "0") GTEST_FAIL() << "run without COMFY_KV_CACHE=0: this tests the cache";
  auto cached = tiny_unet();
  const int64_t dim = cached->config().context_dim;
  at::manual_seed(11);
  auto x = at::randn({2, 4, 8, 8}), t = at::tensor({500.0f, 500.0f});
  auto ctx1 = at::randn({2, 77, dim}), ctx2 = at::randn({2, 77, dim});
  // Each reference from a model that has never seen any other context.
  auto fresh = [&](const at::Tensor& c, const at::Tensor& xx) { return tiny_unet()->forward(xx, t, c); };

  auto a1 = cached->forward(x, t, ctx1);
  EXPECT_TRUE(at::equal(a1, fresh(ctx1, x)));
  auto x2 = at::randn({2, 4, 8, 8});
  EXPECT_TRUE(at::equal(cached->forward(x2, t, ctx1.clone()), fresh(ctx1, x2)));  // equal value, new tensor
  EXPECT_TRUE(at::equal(cached->forward(x, t, ctx2), fresh(ctx2, x)));          // another context
  EXPECT_FALSE(at::equal(cached->forward(x, t, ctx2), a1));
  EXPECT_TRUE(at::equal(cached->forward(x, t, ctx1), a1));                       // and back
  // The cached context's own tensor changed in place: its old K/V must not be used.
  ctx1.mul_(0.5);
  EXPECT_TRUE(at::equal(cached->forward(x, t, ctx1), fresh(ctx1, x)));
  // Another batch size and another token count (a longer prompt).
  auto ctx3 = at::randn({1, 154, dim});
  auto x3 = x.slice(0, 0, 1);
  EXPECT_TRUE(at::equal(cached->forward(x3, t.slice(0, 0, 1), ctx3), tiny_unet()->forward(x3, t.slice(0, 0, 1), ctx3)));
}
