// Loading: format detection, envelopes, PNG chunks, and robust errors for malformed input.
#include <png.h>

#include <chrono>

#include "graph_test_registry.hpp"
#include "graph_test_util.hpp"

namespace comfy::test {
namespace {

using ojson = nlohmann::ordered_json;

// Expects load_workflow_text to throw comfy::Error whose message contains `needle`.
void expect_load_error(const std::string& text, const std::string& needle) {
  try {
    load_workflow_text(text, "input.json", graph_test_registry());
    ADD_FAILURE() << "no error for: " << text.substr(0, 80);
  } catch (const Error& e) {
    EXPECT_EQ(e.type, "invalid_prompt");
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(WorkflowLoad, EmptyAndTruncatedJsonAreClearErrors) {
  expect_load_error("", "empty input");
  expect_load_error("   \n", "empty input");
  expect_load_error("{\"3\": {\"class_type\": \"KSampler\", \"inputs\": {", "truncated");
  expect_load_error("{\"a\": }", "invalid JSON");
  expect_load_error("{} trailing", "invalid JSON");
}

TEST(WorkflowLoad, DeepNestingIsRejectedBeforeParsing) {
  std::string deep(200000, '[');  // would overflow a recursive parser's / destructor's stack
  expect_load_error(deep, "nesting deeper than 512");
  std::string objs;
  for (int i = 0; i < 100000; ++i) objs += "{\"a\":";
  expect_load_error(objs, "nesting deeper than 512");
  // 500 levels inside a string do not count; 500 real levels are fine JSON (but not a workflow)
  expect_load_error("{\"x\": \"" + std::string(5000, '[') + "\"}", "not a ComfyUI workflow");
  expect_load_error(std::string(500, '[') + std::string(500, ']'), "not an object");
}

TEST(WorkflowLoad, NonObjectTopLevelIsRejected) {
  expect_load_error("[1, 2]", "top level is a list");
  expect_load_error("\"hello\"", "top level is a string");
  expect_load_error("42", "top level is a number");
  expect_load_error("null", "top level is null");
}

TEST(WorkflowLoad, StringWhereAListIsExpectedNamesTheMember) {
  expect_load_error(R"({"nodes": "abc", "links": []})", "'nodes' is a string, not a list");
  expect_load_error(R"({"nodes": [], "links": "x"})", "'links' must be a list, found a string");
  expect_load_error(R"({"nodes": [{"id": 1, "type": "KSampler", "inputs": "model"}], "links": []})",
                    "'inputs' must be a list, found a string");
  expect_load_error(R"({"nodes": [{"id": 1, "type": 5}], "links": []})", "node 'type' must be a string");
  expect_load_error(R"({"nodes": [3], "links": []})", "expected a node object, found a number");
  expect_load_error(R"({"prompt": {"1": {"class_type": "SaveImage", "inputs": {}}}, "partial_execution_targets": "1"})",
                    "'partial_execution_targets' must be a list");
  expect_load_error(R"({"1": {"class_type": "SaveImage", "inputs": []}})", "'inputs' must be an object");
}

TEST(WorkflowLoad, NotAWorkflowSaysWhichChecksFailed) {
  expect_load_error(R"({"hello": 1})", "no 'nodes' list");
  expect_load_error(R"({"1": {"class_type": "SaveImage", "inputs": {}}, "extra": 5})", "member 'extra' is not a node record");
}

TEST(WorkflowLoad, DetectsTheThreeJsonForms) {
  const std::string api = R"({"9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x", "images": ["8", 0]}}})";
  auto a = load_workflow_text(api, "a.json", graph_test_registry());
  EXPECT_EQ(a.format, "api");
  EXPECT_TRUE(a.workflow.is_null());
  EXPECT_EQ(a.prompt["9"]["class_type"], "SaveImage");

  const std::string ui = R"({"version": 0.4, "nodes": [{"id": 5, "type": "EmptyLatentImage", "mode": 0,
      "widgets_values": [640, 480, 2]}], "links": []})";
  auto u = load_workflow_text(ui, "u.json", graph_test_registry());
  EXPECT_EQ(u.format, "ui");
  EXPECT_EQ(u.prompt["5"]["inputs"], ojson({{"width", 640}, {"height", 480}, {"batch_size", 2}}));
  EXPECT_EQ(u.workflow["nodes"][0]["id"], 5);
  EXPECT_EQ(u.extra_pnginfo()["workflow"]["version"], 0.4);

  const std::string env = R"({"prompt": )" + api + R"(, "client_id": "c", "extra_data": {"extra_pnginfo": {"workflow": )" +
                          ui + R"(}}, "partial_execution_targets": ["9"]})";
  auto e = load_workflow_text(env, "e.json", graph_test_registry());
  EXPECT_EQ(e.format, "envelope");
  EXPECT_EQ(e.prompt["9"]["class_type"], "SaveImage");
  EXPECT_EQ(e.workflow["nodes"][0]["type"], "EmptyLatentImage");
  EXPECT_EQ(e.partial_execution_targets, std::vector<std::string>{"9"});
}

TEST(WorkflowLoad, VersionOneLinksAsObjects) {
  const std::string ui = R"({"version": 1, "state": {}, "nodes": [
      {"id": 1, "type": "EmptyLatentImage", "widgets_values": [512, 512, 1], "outputs": [{"name": "LATENT", "type": "LATENT", "links": [7]}]},
      {"id": 2, "type": "SaveLatent", "inputs": [{"name": "samples", "type": "LATENT", "link": 7}], "widgets_values": ["out/x"]}],
    "links": [{"id": 7, "origin_id": 1, "origin_slot": 0, "target_id": 2, "target_slot": 0, "type": "LATENT"}]})";
  auto u = load_workflow_text(ui, "v1.json", graph_test_registry());
  EXPECT_EQ(u.prompt["2"]["inputs"], ojson({{"filename_prefix", "out/x"}, {"samples", {"1", 0}}}));
}

TEST(WorkflowLoad, BigIntegersStayExactAndNaNIsTolerated) {
  auto j = parse_json_text(R"({"a": 18446744073709551615, "b": 18446744073709551616, "c": -9223372036854775809,
                                "d": 1.8446744073709552e+19, "e": [NaN, Infinity, -Infinity], "f": "NaN in a string"})",
                           "t");
  EXPECT_TRUE(j["a"].is_number_unsigned());
  EXPECT_EQ(j["a"].get<uint64_t>(), ~uint64_t(0));
  EXPECT_EQ(j["b"], "18446744073709551616");  // beyond 64 bits: exact, as text
  EXPECT_EQ(j["c"], "-9223372036854775809");
  EXPECT_TRUE(j["d"].is_number_float());
  EXPECT_EQ(j["e"], ojson::array({"NaN", "Infinity", "-Infinity"}));
  EXPECT_EQ(j["f"], "NaN in a string");
}

// ---- PNG

struct PngText {
  std::string key, text;
  int compression;  // PNG_TEXT_COMPRESSION_NONE / _zTXt / PNG_ITXT_COMPRESSION_NONE / _zTXt
};

std::string make_png(const std::vector<PngText>& texts, bool texts_after_image = false) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep d, png_size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<char*>(d), n);
      },
      nullptr);
  png_set_IHDR(png, info, 2, 2, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_text> t(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    t[i] = png_text{};
    t[i].compression = texts[i].compression;
    t[i].key = const_cast<char*>(texts[i].key.c_str());
    t[i].text = const_cast<char*>(texts[i].text.c_str());
    t[i].text_length = texts[i].text.size();
  }
  if (!texts_after_image) png_set_text(png, info, t.data(), int(t.size()));
  png_write_info(png, info);
  unsigned char row[6] = {255, 0, 0, 0, 255, 0};
  png_write_row(png, row);
  png_write_row(png, row);
  if (texts_after_image) png_set_text(png, info, t.data(), int(t.size()));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

const std::string kPngPrompt =
    R"({"9": {"inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}, "class_type": "SaveImage", "_meta": {"title": "Save Image"}},)"
    R"( "10": {"inputs": {"image": "example.png", "upload": "image"}, "class_type": "LoadImage", "is_changed": [NaN]}})";
const std::string kPngWorkflow =
    R"({"version": 0.4, "nodes": [{"id": 1, "type": "EmptyLatentImage", "widgets_values": [64, 64, 1], "title": "caf\u00e9 \u2615"}], "links": []})";

TEST(WorkflowLoad, PngPromptChunkIsPreferredAndWorkflowKept) {
  for (int comp : {PNG_TEXT_COMPRESSION_NONE, PNG_TEXT_COMPRESSION_zTXt, PNG_ITXT_COMPRESSION_NONE, PNG_ITXT_COMPRESSION_zTXt}) {
    std::string png = make_png({{"prompt", kPngPrompt, comp}, {"workflow", kPngWorkflow, comp}});
    auto wf = load_workflow_text(png, "img.png", graph_test_registry());
    EXPECT_EQ(wf.format, "png") << comp;
    EXPECT_EQ(wf.prompt["9"]["class_type"], "SaveImage") << comp;
    EXPECT_EQ(wf.prompt["10"]["is_changed"], ojson::array({"NaN"})) << comp;
    EXPECT_EQ(wf.workflow["nodes"][0]["type"], "EmptyLatentImage") << comp;
    EXPECT_EQ(wf.workflow_text, kPngWorkflow) << comp;
  }
}

TEST(WorkflowLoad, PngWithOnlyAWorkflowChunkIsConverted) {
  std::string png = make_png({{"workflow", kPngWorkflow, PNG_TEXT_COMPRESSION_NONE}}, /*after image*/ true);
  auto wf = load_workflow_text(png, "img.png", graph_test_registry());
  EXPECT_EQ(wf.prompt["1"]["inputs"], ojson({{"width", 64}, {"height", 64}, {"batch_size", 1}}));
}

TEST(WorkflowLoad, PngTextDecodesUtf8ElseLatin1) {
  std::string latin1 = "{\"1\": {\"class_type\": \"SaveImage\", \"inputs\": {\"filename_prefix\": \"caf\xe9\"}}}";
  std::string png = make_png({{"prompt", latin1, PNG_TEXT_COMPRESSION_NONE}});
  auto wf = load_workflow_text(png, "l.png", graph_test_registry());
  EXPECT_EQ(wf.prompt["1"]["inputs"]["filename_prefix"], "caf\xc3\xa9");
  std::string utf8 = "{\"1\": {\"class_type\": \"SaveImage\", \"inputs\": {\"filename_prefix\": \"caf\xc3\xa9\"}}}";
  auto wf2 = load_workflow_text(make_png({{"prompt", utf8, PNG_TEXT_COMPRESSION_NONE}}), "u.png", graph_test_registry());
  EXPECT_EQ(wf2.prompt["1"]["inputs"]["filename_prefix"], "caf\xc3\xa9");
}

TEST(WorkflowLoad, BrokenPngsAreErrorsNotCrashes) {
  std::string png = make_png({{"prompt", kPngPrompt, PNG_TEXT_COMPRESSION_zTXt}});
  for (size_t cut : {size_t(8), size_t(20), size_t(40), png.size() / 2, png.size() - 5}) {
    try {
      load_workflow_text(png.substr(0, cut), "cut.png", graph_test_registry());
    } catch (const Error& e) {
      EXPECT_EQ(e.type, "invalid_prompt");
    }
  }
  std::string corrupt = png;
  for (size_t i = 40; i < corrupt.size(); i += 7) corrupt[i] = char(corrupt[i] ^ 0x5a);
  try {
    load_workflow_text(corrupt, "bad.png", graph_test_registry());
  } catch (const Error& e) {
    EXPECT_EQ(e.type, "invalid_prompt");
  }
  std::string plain = make_png({});
  try {
    load_workflow_text(plain, "plain.png", graph_test_registry());
    ADD_FAILURE() << "a PNG without metadata must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no ComfyUI metadata"), std::string::npos);
  }
}

}  // namespace
}  // namespace comfy::test
