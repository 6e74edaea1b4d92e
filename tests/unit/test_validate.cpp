// validate_prompt against workflow-execution.md 7.1-7.6: error types, messages and shapes.
#include <chrono>
#include <ctime>

#include "graph_test_registry.hpp"
#include "graph_test_util.hpp"

namespace comfy::test {
namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

// A valid txt2img prompt (ComfyUI's basic_api_example), parsed through our loader.
Prompt basic() {
  return parse_json_text(R"({
    "3": {"class_type": "KSampler", "inputs": {"cfg": 8, "denoise": 1, "latent_image": ["5", 0], "model": ["4", 0],
          "negative": ["7", 0], "positive": ["6", 0], "sampler_name": "euler", "scheduler": "normal", "seed": 8566257, "steps": 20}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"batch_size": 1, "height": 512, "width": 512}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "masterpiece best quality girl"}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "bad hands"}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}}})",
                         "basic");
}

ValidationResult run(Prompt& p) {
  test_files() = {"v1-5-pruned-emaonly.safetensors", "example.png"};
  return validate_prompt(p, graph_test_registry(), RuntimeConfig{});
}

// The one error of node `id` (asserting there is exactly one).
json only_error(const ValidationResult& r, const std::string& id) {
  EXPECT_TRUE(r.node_errors.contains(id)) << r.to_json().dump(1);
  if (!r.node_errors.contains(id)) return json::object();
  EXPECT_EQ(r.node_errors[id]["errors"].size(), 1u) << r.node_errors[id].dump(1);
  return r.node_errors[id]["errors"][0];
}

TEST(Validate, BasicPromptIsValidAndCoerced) {
  Prompt p = basic();
  auto r = run(p);
  EXPECT_TRUE(r.all_ok()) << r.to_json().dump(1);
  EXPECT_EQ(r.outputs, std::vector<std::string>{"9"});
  EXPECT_TRUE(p["3"]["inputs"]["cfg"].is_number_float());
  EXPECT_EQ(p["3"]["inputs"]["cfg"].dump(), "8.0");
  EXPECT_EQ(p["3"]["inputs"]["denoise"].dump(), "1.0");
  EXPECT_TRUE(r.error.is_null());
  EXPECT_EQ(r.to_json(), json({{"error", nullptr}, {"node_errors", json::object()}}));
}

TEST(Validate, AllUnknownClassTypesAreListedAtOnce) {
  Prompt p = basic();
  p["20"] = {{"class_type", "ControlNetLoaderX"}, {"inputs", json::object()}};
  p["21"] = {{"class_type", "FancyNode"}, {"inputs", json::object()}};
  p["22"] = {{"class_type", "ControlNetLoaderX"}, {"inputs", json::object()}};
  auto r = run(p);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error["type"], "invalid_prompt");
  EXPECT_EQ(r.error["message"], "Cannot execute because nodes ControlNetLoaderX, FancyNode do not exist.");
  EXPECT_EQ(r.error["extra_info"]["unknown_class_types"], json({"ControlNetLoaderX", "FancyNode"}));
  EXPECT_EQ(r.error["extra_info"]["nodes"], json({{"20", "ControlNetLoaderX"}, {"21", "FancyNode"}, {"22", "ControlNetLoaderX"}}));
  EXPECT_TRUE(r.node_errors.empty());
  auto d = r.describe();
  EXPECT_NE(d.find("node 21 (FancyNode)"), std::string::npos) << d;
  // One unknown node: ComfyUI's exact text.
  Prompt q = basic();
  q["20"] = {{"class_type", "CLIPLoader"}, {"inputs", json::object()}};
  auto r2 = run(q);
  EXPECT_EQ(r2.error["message"], "Cannot execute because node CLIPLoader does not exist.");
  EXPECT_EQ(r2.error["details"], "Node ID '#20'");
}

TEST(Validate, MissingClassTypeAndNoOutputs) {
  Prompt p = basic();
  p["5"].erase("class_type");
  auto r = run(p);
  EXPECT_EQ(r.error["type"], "invalid_prompt");
  EXPECT_EQ(r.error["message"], "Cannot execute because a node is missing the class_type property.");
  EXPECT_EQ(r.error["details"], "Node ID '#5'");
  Prompt q = basic();
  q.erase("9");
  auto r2 = run(q);
  EXPECT_EQ(r2.error, json({{"type", "prompt_no_outputs"}, {"message", "Prompt has no outputs"}, {"details", ""},
                            {"extra_info", json::object()}}));
  EXPECT_TRUE(r2.node_errors.empty());
}

TEST(Validate, RequiredInputMissingHasComfyUIsShape) {
  Prompt p = basic();
  p["9"]["inputs"].erase("images");
  auto r = run(p);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.to_json(), json::parse(R"({"error": {"type": "prompt_outputs_failed_validation",
      "message": "Prompt outputs failed validation", "details": "Required input is missing: images", "extra_info": {}},
      "node_errors": {"9": {"errors": [{"type": "required_input_missing", "message": "Required input is missing",
      "details": "images", "extra_info": {"input_name": "images"}}], "dependent_outputs": ["9"], "class_type": "SaveImage"}}})"));
  EXPECT_EQ(r.describe(), "node 9 (SaveImage), input 'images': Required input is missing: images\n");
}

TEST(Validate, DanglingLinkAndMissingOutputSlotAreNamed) {
  Prompt p = basic();
  p["8"]["inputs"]["samples"] = ojson::array({"12", 0});
  p["8"]["inputs"]["vae"] = ojson::array({"4", 5});
  auto r = run(p);
  ASSERT_FALSE(r.ok);
  ASSERT_EQ(r.node_errors["8"]["errors"].size(), 2u) << r.to_json().dump(1);
  json e = r.node_errors["8"]["errors"][0];
  EXPECT_EQ(e["type"], "exception_during_inner_validation");
  EXPECT_EQ(e["details"], "linked node '12' (input 'samples') does not exist in the prompt");
  EXPECT_EQ(e["extra_info"]["exception_type"], "KeyError");
  EXPECT_EQ(e["extra_info"]["linked_node"], json({"12", 0}));
  json e2 = r.node_errors["8"]["errors"][1];
  EXPECT_EQ(e2["details"], "linked node '4' (CheckpointLoaderSimple, input 'vae') has no output 5; it has 3 output(s)");
  EXPECT_EQ(e2["extra_info"]["exception_type"], "IndexError");
  EXPECT_FALSE(r.node_errors.contains("3"));  // unreachable behind the broken links: not validated (7.1)
  // On the output node itself: exception_during_validation
  Prompt q = basic();
  q["9"]["inputs"]["images"] = ojson::array({"77", 0});
  auto r2 = run(q);
  EXPECT_EQ(only_error(r2, "9")["type"], "exception_during_validation");
}

TEST(Validate, WrongTypeOnALinkIsReturnTypeMismatch) {
  Prompt p = basic();
  p["8"]["inputs"]["samples"] = ojson::array({"4", 0});  // MODEL into LATENT
  auto r = run(p);
  json e = only_error(r, "8");
  EXPECT_EQ(e["type"], "return_type_mismatch");
  EXPECT_EQ(e["message"], "Return type mismatch between linked nodes");
  EXPECT_EQ(e["details"], "samples, received_type(MODEL) mismatch input_type(LATENT)");
  EXPECT_EQ(e["extra_info"]["received_type"], "MODEL");
  EXPECT_EQ(e["extra_info"]["linked_node"], json({"4", 0}));
  EXPECT_FALSE(r.node_errors.contains("3"));  // the mismatched source is not descended into
}

TEST(Validate, TypesMatchRules) {
  EXPECT_TRUE(types_match("INT", "INT,FLOAT"));
  EXPECT_TRUE(types_match("*", "LATENT"));
  EXPECT_TRUE(types_match("IMAGE", "*"));
  EXPECT_TRUE(types_match("FLOAT, INT", "INT"));
  EXPECT_FALSE(types_match("IMAGE", "LATENT"));
  EXPECT_FALSE(types_match("image", "IMAGE"));  // case-sensitive on the server
  EXPECT_FALSE(types_match("STRING", "COMBO", true));
  EXPECT_TRUE(types_match("*", "COMBO", true));
  EXPECT_TRUE(types_match("COMBO", "COMBO", false));
}

TEST(Validate, OutOfRangeValues) {
  Prompt p = basic();
  p["5"]["inputs"]["width"] = 8;
  p["3"]["inputs"]["steps"] = 20000;
  p["3"]["inputs"]["denoise"] = 1.5;
  auto r = run(p);
  json e5 = only_error(r, "5");
  EXPECT_EQ(e5["type"], "value_smaller_than_min");
  EXPECT_EQ(e5["message"], "Value 8 smaller than min of 16");
  EXPECT_EQ(e5["details"], "width");
  EXPECT_EQ(e5["extra_info"]["received_value"], 8);
  ASSERT_EQ(r.node_errors["3"]["errors"].size(), 2u);
  EXPECT_EQ(r.node_errors["3"]["errors"][0]["message"], "Value 20000 bigger than max of 10000");
  EXPECT_EQ(r.node_errors["3"]["errors"][1]["message"], "Value 1.5 bigger than max of 1.0");
}

TEST(Validate, SeedsUpToTwoToThe64MinusOne) {
  auto seed_result = [](const std::string& literal) {
    Prompt p = basic();
    p["3"]["inputs"]["seed"] = parse_json_text("[" + literal + "]", "s")[0];
    auto r = run(p);
    return std::make_pair(r, p["3"]["inputs"]["seed"]);
  };
  auto [ok, v] = seed_result("18446744073709551615");
  EXPECT_TRUE(ok.all_ok()) << ok.to_json().dump();
  EXPECT_EQ(v.get<uint64_t>(), ~uint64_t(0));
  auto [big, v2] = seed_result("18446744073709551616");
  json e = only_error(big, "3");
  EXPECT_EQ(e["type"], "value_bigger_than_max");
  EXPECT_EQ(e["message"], "Value 18446744073709551616 bigger than max of 18446744073709551615");
  auto [huge, v3] = seed_result("123456789012345678901234567890123456789012345678901234567890");
  EXPECT_EQ(only_error(huge, "3")["type"], "value_bigger_than_max");
  // JavaScript re-serialises 2^64-1 as 1.8446744073709552e+19 (6.3): read as the maximum.
  auto [js, v4] = seed_result("1.8446744073709552e+19");
  EXPECT_TRUE(js.all_ok()) << js.to_json().dump();
  EXPECT_EQ(v4.get<uint64_t>(), ~uint64_t(0));
  EXPECT_FALSE(js.warnings.empty());
  auto [neg, v5] = seed_result("-1");
  EXPECT_EQ(only_error(neg, "3")["message"], "Value -1 smaller than min of 0");
  auto [str, v6] = seed_result("\"154517\"");
  EXPECT_TRUE(str.all_ok());
  EXPECT_EQ(v6, 154517);
}

TEST(Validate, NonNumericValuesAreInvalidInputType) {
  Prompt p = basic();
  p["3"]["inputs"]["steps"] = "abc";
  p["3"]["inputs"]["cfg"] = nullptr;
  p["5"]["inputs"]["width"] = "5.0";
  auto r = run(p);
  auto& errs = r.node_errors["3"]["errors"];
  ASSERT_EQ(errs.size(), 2u) << errs.dump(1);
  EXPECT_EQ(errs[0]["type"], "invalid_input_type");
  EXPECT_EQ(errs[0]["message"], "Failed to convert an input value to a INT value");
  EXPECT_EQ(errs[0]["details"], "steps, abc, invalid literal for int() with base 10: 'abc'");
  EXPECT_EQ(errs[1]["message"], "Failed to convert an input value to a FLOAT value");
  EXPECT_EQ(errs[1]["details"], "cfg, None, float() argument must be a string or a real number, not 'NoneType'");
  EXPECT_EQ(only_error(r, "5")["details"], "width, 5.0, invalid literal for int() with base 10: '5.0'");
}

TEST(Validate, CoercionIsWrittenBack) {
  Prompt p = basic();
  p["3"]["inputs"]["steps"] = 20.7;
  p["3"]["inputs"]["denoise"] = "0.5";
  p["9"]["inputs"]["filename_prefix"] = 5;
  p["6"]["inputs"]["text"] = ojson{{"__value__", "unwrapped"}};
  p["3"]["inputs"]["seed"] = true;
  auto r = run(p);
  EXPECT_TRUE(r.all_ok()) << r.to_json().dump(1);
  EXPECT_EQ(p["3"]["inputs"]["steps"].dump(), "20");
  EXPECT_EQ(p["3"]["inputs"]["denoise"].dump(), "0.5");
  EXPECT_EQ(p["9"]["inputs"]["filename_prefix"], "5");
  EXPECT_EQ(p["6"]["inputs"]["text"], "unwrapped");
  EXPECT_EQ(p["3"]["inputs"]["seed"], 1);
}

TEST(Validate, ComboValuesNotInListRenderLikePython) {
  Prompt p = basic();
  p["3"]["inputs"]["sampler_name"] = "nope";
  p["5"]["class_type"] = "LatentUpscale";
  p["5"]["inputs"] = {{"samples", ojson::array({"10", 0})}, {"upscale_method", "bilinear"}, {"width", 64},
                      {"height", 64}, {"crop", "sideways"}};
  p["10"] = {{"class_type", "EmptyLatentImage"}, {"inputs", {{"width", 64}, {"height", 64}, {"batch_size", 1}}}};
  auto r = run(p);
  json e3 = only_error(r, "3");
  EXPECT_EQ(e3["type"], "value_not_in_list");
  EXPECT_EQ(e3["details"], "sampler_name: 'nope' not in (list of length 44)");
  EXPECT_TRUE(e3["extra_info"]["input_config"].is_null());
  json e5 = only_error(r, "5");
  EXPECT_EQ(e5["details"], "crop: 'sideways' not in ['disabled', 'center']");
  EXPECT_EQ(e5["extra_info"]["input_config"], json::array({json::array({"disabled", "center"})}));
  // A number never matches a string choice.
  Prompt q = basic();
  q["3"]["inputs"]["scheduler"] = 1;
  EXPECT_EQ(only_error(run(q), "3")["details"], "scheduler: '1' not in ['simple', 'sgm_uniform', 'karras', "
                                                "'exponential', 'ddim_uniform', 'beta', 'normal', 'linear_quadratic', 'kl_optimal']");
}

TEST(Validate, CyclesAreDetectedAndNamed) {
  Prompt p = basic();
  p["8"]["inputs"]["samples"] = ojson::array({"30", 0});
  p["30"] = {{"class_type", "RepeatLatentBatch"}, {"inputs", {{"samples", ojson::array({"31", 0})}, {"amount", 1}}}};
  p["31"] = {{"class_type", "RepeatLatentBatch"}, {"inputs", {{"samples", ojson::array({"30", 0})}, {"amount", 1}}}};
  auto r = run(p);
  ASSERT_FALSE(r.ok);
  json e = only_error(r, "9");
  EXPECT_EQ(e["type"], "exception_during_validation");
  EXPECT_EQ(e["extra_info"]["exception_type"], "graph.DependencyCycleError");
  EXPECT_EQ(e["details"], "Dependency cycle detected: 30 -> 31 -> 30");
  // A self-loop too
  Prompt q = basic();
  q["8"]["inputs"]["samples"] = ojson::array({"30", 0});
  q["30"] = {{"class_type", "RepeatLatentBatch"}, {"inputs", {{"samples", ojson::array({"30", 0})}, {"amount", 1}}}};
  EXPECT_EQ(only_error(run(q), "9")["details"], "Dependency cycle detected: 30 -> 30");
}

TEST(Validate, MalformedLinks) {
  Prompt p = basic();
  p["8"]["inputs"]["samples"] = ojson::array({"3"});
  p["8"]["inputs"]["vae"] = ojson::array({4, 2});  // numeric id: accepted with a warning
  auto r = run(p);
  json e = only_error(r, "8");
  EXPECT_EQ(e["type"], "bad_linked_input");
  EXPECT_EQ(e["message"], "Bad linked input, must be a length-2 list of [node_id, slot_index]");
  EXPECT_EQ(p["8"]["inputs"]["vae"], ojson({"4", 2}));
  EXPECT_FALSE(r.warnings.empty());
}

TEST(Validate, PartialSuccessListsTheFailedOutput) {
  Prompt p = basic();
  p["19"] = {{"class_type", "SaveImage"}, {"inputs", {{"filename_prefix", "b"}}}};
  auto r = run(p);
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.all_ok());
  EXPECT_EQ(r.outputs, std::vector<std::string>{"9"});
  EXPECT_EQ(r.node_errors["19"]["dependent_outputs"], json({"19"}));
  auto r2 = validate_prompt(p, graph_test_registry(), RuntimeConfig{}, {"9"});
  EXPECT_TRUE(r2.all_ok());
}

TEST(Validate, CustomValidationHook) {
  Registry reg = make_graph_test_registry();
  NodeDef d{NodeSchema("CheckedSave").output_node_().string_("name", "x"),
            [](const NodeInputs&, ExecContext&) { return NodeOutput{}; }};
  d.validate = [](const std::string& input, const Value& v, const RuntimeConfig&) -> std::string {
    return v.as_string() == "good" ? "" : "Invalid image file: " + v.as_string();
  };
  d.validate_inputs = {"name"};
  reg.add(d);
  Prompt p = parse_json_text(R"({"1": {"class_type": "CheckedSave", "inputs": {"name": "bad.png"}}})", "c");
  auto r = validate_prompt(p, reg, RuntimeConfig{});
  json e = only_error(r, "1");
  EXPECT_EQ(e["type"], "custom_validation_failed");
  EXPECT_EQ(e["message"], "Custom validation failed for node");
  EXPECT_EQ(e["details"], "name - Invalid image file: bad.png");
  p["1"]["inputs"]["name"] = "good";
  EXPECT_TRUE(validate_prompt(p, reg, RuntimeConfig{}).all_ok());
}

TEST(Validate, BooleanOnlyAcceptsUnambiguousValues) {
  auto c = coerce_constant("false", "BOOLEAN");
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.value, false);
  EXPECT_FALSE(c.warning.empty());
  EXPECT_FALSE(coerce_constant("maybe", "BOOLEAN").ok);
  EXPECT_EQ(coerce_constant(0, "BOOLEAN").value, false);
  EXPECT_EQ(coerce_constant(5.0, "STRING").value, "5.0");
  EXPECT_EQ(coerce_constant(true, "STRING").value, "True");
  EXPECT_EQ(coerce_constant(nullptr, "STRING").value, "None");
  EXPECT_EQ(coerce_constant(" 1_000 ", "INT").value, 1000);
  EXPECT_EQ(coerce_constant(-20.7, "INT").value, -20);
  EXPECT_EQ(coerce_constant("inf", "FLOAT").value.get<double>(), INFINITY);
}

TEST(Validate, PythonFloatRepr) {
  EXPECT_EQ(py_float_repr(8.0), "8.0");
  EXPECT_EQ(py_float_repr(1e-05), "1e-05");
  EXPECT_EQ(py_float_repr(0.0001), "0.0001");
  EXPECT_EQ(py_float_repr(0.8700000000000001), "0.8700000000000001");
  EXPECT_EQ(py_float_repr(1e16), "1e+16");
  EXPECT_EQ(py_float_repr(123456789012345.6), "123456789012345.6");
  EXPECT_EQ(py_float_repr(18446744073709551615.0), "1.8446744073709552e+19");
  EXPECT_EQ(py_float_repr(-0.5), "-0.5");
  EXPECT_EQ(py_float_repr(INFINITY), "inf");
  EXPECT_EQ(py_repr(ojson::array({"it's", "a\"b", 1, 2.5, nullptr, true})), "[\"it's\", 'a\"b', 1, 2.5, None, True]");
}

TEST(Validate, HundredThousandNodeChainValidatesInSeconds) {
  const int n = 100000;
  std::string text = R"({"0": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}})";
  for (int i = 1; i < n; ++i)
    text += ",\"" + std::to_string(i) + R"(": {"class_type": "RepeatLatentBatch", "inputs": {"samples": [")" +
            std::to_string(i - 1) + R"(", 0], "amount": 1}})";
  text += R"(, "out": {"class_type": "SaveLatent", "inputs": {"filename_prefix": "x", "samples": [")" +
          std::to_string(n - 1) + R"(", 0]}}})";
  auto t0 = std::chrono::steady_clock::now();
  std::clock_t c0 = std::clock();
  auto wf = load_workflow_text(text, "chain.json", graph_test_registry());
  std::clock_t c1 = std::clock();
  auto r = validate_prompt(wf.prompt, graph_test_registry(), RuntimeConfig{});
  std::clock_t c2 = std::clock();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(r.all_ok()) << r.describe().substr(0, 500);
  // CPU time, not wall time: the shared build machine runs at many times its core count.
  EXPECT_LT(double(c2 - c0) / CLOCKS_PER_SEC, 10.0);
  std::cout << "[ info ] " << n + 1 << " nodes: wall " << secs << " s; CPU parse " << double(c1 - c0) / CLOCKS_PER_SEC
            << " s, validate " << double(c2 - c1) / CLOCKS_PER_SEC << " s\n";
  // A break at the far end is still found and attributed.
  wf.prompt["0"]["inputs"]["width"] = 1;
  auto r2 = validate_prompt(wf.prompt, graph_test_registry(), RuntimeConfig{});
  EXPECT_EQ(only_error(r2, "0")["type"], "value_smaller_than_min");
}

}  // namespace
}  // namespace comfy::test
