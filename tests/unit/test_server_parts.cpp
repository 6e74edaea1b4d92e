// The server's transport-free parts: target parsing, the route table (with the /api twin of every
// route), multipart bodies, and the prompt queue's ordering and history cap (server spec 2, 3).
#include <gtest/gtest.h>

#include "server/http_message.hpp"
#include "server/multipart.hpp"
#include "server/prompt_queue.hpp"
#include "server/router.hpp"

using namespace comfy::server;

TEST(ServerTarget, DecodesPathAndQueryAndRejectsBrokenEscapes) {
  std::string path;
  std::multimap<std::string, std::string> q;
  ASSERT_TRUE(parse_target("/view?filename=upload_test%20(1).png&type=input&x=a+b", path, q));
  EXPECT_EQ(path, "/view");
  EXPECT_EQ(q.find("filename")->second, "upload_test (1).png");
  EXPECT_EQ(q.find("x")->second, "a b");
  EXPECT_FALSE(parse_target("/view%zz", path, q));
  EXPECT_FALSE(parse_target("/a%00b", path, q));  // NUL in the path
  EXPECT_FALSE(parse_target("/view?filename=%4", path, q));
  ASSERT_TRUE(parse_target("/history/abc", path, q));
  EXPECT_TRUE(q.empty());
}

TEST(ServerRouter, MatchesPlaceholdersAndTheApiPrefix) {
  Router r;
  int hits = 0;
  r.add("GET", "/history/{prompt_id}", [&](HttpRequest& req) {
    ++hits;
    return HttpResponse::text(req.params["prompt_id"], 200);
  });
  r.add("POST", "/prompt", [](HttpRequest&) { return HttpResponse::empty(); });
  for (const char* p : {"/history/p1", "/api/history/p1"}) {
    HttpRequest req;
    req.method = "GET";
    req.path = p;
    EXPECT_EQ(r.dispatch(req).body, "p1") << p;
  }
  EXPECT_EQ(hits, 2);
  HttpRequest wrong_method;
  wrong_method.method = "GET";
  wrong_method.path = "/prompt";
  EXPECT_EQ(r.dispatch(wrong_method).status, 405);
  HttpRequest unknown;
  unknown.method = "GET";
  unknown.path = "/history";
  EXPECT_EQ(r.dispatch(unknown).status, 404);  // "{prompt_id}" never matches an empty segment
  HttpRequest head;
  head.method = "HEAD";
  head.path = "/api/history/x";
  EXPECT_EQ(r.dispatch(head).status, 200);
}

TEST(ServerMultipart, ReadsFieldsAndFileParts) {
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"subfolder\"\r\n\r\nsub/dir\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a; b.png\"\r\nContent-Type: image/png\r\n\r\n"
      "\x89PNG\r\n--not-the-boundary\r\n"
      "--XyZ--\r\n";
  auto parts = parse_multipart("multipart/form-data; boundary=XyZ", body);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->at("subfolder").data, "sub/dir");
  EXPECT_FALSE(parts->at("subfolder").filename);
  EXPECT_EQ(*parts->at("image").filename, "a; b.png");
  EXPECT_EQ(parts->at("image").data, "\x89PNG\r\n--not-the-boundary");
  EXPECT_FALSE(parse_multipart("application/json", body));
  EXPECT_FALSE(parse_multipart("multipart/form-data; boundary=XyZ", "--XyZ\r\nno end"));
  EXPECT_FALSE(parse_multipart("multipart/form-data", body));  // no boundary
}

namespace {
QueueItem item(double number, const std::string& id, bool is_float = false) {
  QueueItem q;
  q.number = is_float ? ojson(number) : ojson(int64_t(number));
  q.prompt_id = id;
  q.prompt = ojson::object();
  q.extra_data = ojson::object();
  return q;
}
}  // namespace

TEST(ServerPromptQueue, LowestNumberRunsFirstThenPromptId) {
  PromptQueue q;
  q.put(item(2, "b"));
  q.put(item(-3, "front"));
  q.put(item(2, "a"));
  q.put(item(100, "explicit", true));
  EXPECT_EQ(q.queue_remaining(), 4u);
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    auto it = q.get();
    ASSERT_TRUE(it);
    order.push_back(it->prompt_id);
    EXPECT_EQ(q.queue_remaining(), size_t(4 - i));  // the running item still counts
    q.task_done(it->prompt_id, nullptr);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"front", "a", "b", "explicit"}));
  EXPECT_EQ(item(100, "x", true).to_json()[0].dump(), "100.0");  // an explicit number echoes as a float
}

TEST(ServerPromptQueue, DeleteWipeAndCappedHistoryWithMaxItemsAndOffset) {
  PromptQueue q(3);
  q.put(item(0, "p0"));
  q.put(item(1, "p1"));
  q.put(item(2, "p2"));
  EXPECT_EQ(q.remove({"p1", "unknown"}), 1u);
  EXPECT_EQ(q.queue_json()["queue_pending"].size(), 2u);
  EXPECT_EQ(q.wipe(), 2u);
  for (int i = 0; i < 5; ++i) {
    std::string id = "h" + std::to_string(i);
    q.put(item(i, id));
    auto it = q.get();
    q.task_done(it->prompt_id, ojson{{"n", i}});
  }
  EXPECT_EQ(q.history_size(), 3u);  // oldest dropped beyond the cap
  auto keys = [](const ojson& j) {
    std::vector<std::string> k;
    for (auto it = j.begin(); it != j.end(); ++it) k.push_back(it.key());
    return k;
  };
  EXPECT_EQ(keys(q.history(std::nullopt, -1)), (std::vector<std::string>{"h2", "h3", "h4"}));
  EXPECT_EQ(keys(q.history(2, -1)), (std::vector<std::string>{"h3", "h4"}));
  EXPECT_EQ(keys(q.history(1, 0)), (std::vector<std::string>{"h2"}));
  EXPECT_EQ(keys(q.history(10, -1)), (std::vector<std::string>{"h2", "h3", "h4"}));
  EXPECT_EQ(q.history_one("h0"), ojson::object());
  q.history_remove({"h3"});
  EXPECT_EQ(keys(q.history(std::nullopt, -1)), (std::vector<std::string>{"h2", "h4"}));
  q.history_clear();
  EXPECT_EQ(q.history_size(), 0u);
}
