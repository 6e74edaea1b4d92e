#!/usr/bin/env python3
"""Writes the example workflows in workflows/ (API and UI format) from one description per graph.

Each example exists twice: on the embedded model (`builtin:shapes`, no download) and on an SD1.5
checkpoint (`v1-5-pruned-emaonly.safetensors`). Run from the repository root:
    python3 tools/make_example_workflows.py
Developer tool only; comfy-native itself reads the JSON files."""
import json
import os

# Widget order per class (workflow-nodes-files.md 9.x, 10.x); "(ctl)" marks the control-widget slot.
WIDGETS = {
    "CheckpointLoaderSimple": ["ckpt_name"],
    "CLIPTextEncode": ["text"],
    "EmptyLatentImage": ["width", "height", "batch_size"],
    "KSampler //Inspire": ["seed", "(ctl)", "steps", "cfg", "sampler_name", "scheduler", "denoise", "noise_mode",
                           "batch_seed_mode", "variation_seed", "variation_strength", "variation_method",
                           "internal_seed"],
    "KSamplerAdvanced //Inspire": ["add_noise", "noise_seed", "(ctl)", "steps", "cfg", "sampler_name", "scheduler",
                                   "start_at_step", "end_at_step", "noise_mode", "return_with_leftover_noise",
                                   "batch_seed_mode", "variation_seed", "variation_strength", "variation_method",
                                   "internal_seed"],
    "KSamplerProgress //Inspire": ["seed", "(ctl)", "steps", "cfg", "sampler_name", "scheduler", "denoise",
                                   "noise_mode", "interval", "omit_start_latent", "omit_final_latent"],
    "VAEDecode": [],
    "VAEEncode": [],
    "SaveImage": ["filename_prefix"],
    "LoadImage": ["image", "(upload)"],
}
# Socket inputs in declaration order (optional ones last, left unlinked when absent).
SOCKETS = {
    "CheckpointLoaderSimple": [],
    "CLIPTextEncode": [("clip", "CLIP")],
    "EmptyLatentImage": [],
    "KSampler //Inspire": [("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                           ("latent_image", "LATENT"), ("scheduler_func_opt", "SCHEDULER_FUNC")],
    "KSamplerAdvanced //Inspire": [("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                                   ("latent_image", "LATENT"), ("noise_opt", "NOISE_IMAGE"),
                                   ("scheduler_func_opt", "SCHEDULER_FUNC")],
    "KSamplerProgress //Inspire": [("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                                   ("latent_image", "LATENT"), ("scheduler_func_opt", "SCHEDULER_FUNC")],
    "VAEDecode": [("samples", "LATENT"), ("vae", "VAE")],
    "VAEEncode": [("pixels", "IMAGE"), ("vae", "VAE")],
    "SaveImage": [("images", "IMAGE")],
    "LoadImage": [],
}
OUTPUTS = {
    "CheckpointLoaderSimple": ["MODEL", "CLIP", "VAE"],
    "CLIPTextEncode": ["CONDITIONING"],
    "EmptyLatentImage": ["LATENT"],
    "KSampler //Inspire": ["LATENT"],
    "KSamplerAdvanced //Inspire": ["LATENT"],
    "KSamplerProgress //Inspire": [("latent", "LATENT"), ("progress_latent", "LATENT")],
    "VAEDecode": ["IMAGE"],
    "VAEEncode": ["LATENT"],
    "SaveImage": [],
    "LoadImage": ["IMAGE", "MASK"],
}
DISPLAY = {
    "CheckpointLoaderSimple": "Load Checkpoint", "CLIPTextEncode": "CLIP Text Encode (Prompt)",
    "EmptyLatentImage": "Empty Latent Image", "KSampler //Inspire": "KSampler (inspire)",
    "KSamplerAdvanced //Inspire": "KSamplerAdvanced (inspire)",
    "KSamplerProgress //Inspire": "KSampler Progress (Inspire)", "VAEDecode": "VAE Decode",
    "VAEEncode": "VAE Encode", "SaveImage": "Save Image", "LoadImage": "Load Image",
}

INSPIRE_DEFAULTS = {"noise_mode": "GPU(=A1111)", "batch_seed_mode": "incremental", "variation_seed": 0,
                    "variation_strength": 0.0, "variation_method": "linear", "internal_seed": 0}


def ksampler(seed, steps, cfg, sampler, scheduler, denoise=1.0, **kw):
    w = dict(seed=seed, steps=steps, cfg=cfg, sampler_name=sampler, scheduler=scheduler, denoise=denoise)
    w.update(INSPIRE_DEFAULTS)
    w.update(kw)
    return w


def graphs(model):
    """model: 'shapes' or 'sd15'. Returns {name: (description, [nodes])}; a node is
    (id, class, widgets dict, {socket: (from_id, slot)})."""
    if model == "shapes":
        ckpt, pos, neg, alt = "builtin:shapes", "a red circle on a light background", "dark", "a blue square"
        recolor = "a yellow square"
        size = 512
    else:
        ckpt = "v1-5-pruned-emaonly.safetensors"
        pos = "a photograph of a red apple on a wooden table, soft light, highly detailed"
        neg = "blurry, watermark, text"
        alt = "a photograph of a green pear on a wooden table, soft light, highly detailed"
        recolor = "a watercolor painting of a yellow square on paper"
        size = 512
    prefix = "shapes/" if model == "shapes" else "sd15/"

    def base(extra_pos=None):
        return [
            (4, "CheckpointLoaderSimple", {"ckpt_name": ckpt}, {}),
            (6, "CLIPTextEncode", {"text": extra_pos or pos}, {"clip": (4, 1)}),
            (7, "CLIPTextEncode", {"text": neg}, {"clip": (4, 1)}),
        ]

    out = {}
    out["txt2img"] = ("Text to image with KSampler //Inspire.", base() + [
        (5, "EmptyLatentImage", {"width": size, "height": size, "batch_size": 1}, {}),
        (3, "KSampler //Inspire", ksampler(42, 20, 7.0, "euler", "karras"),
         {"model": (4, 0), "positive": (6, 0), "negative": (7, 0), "latent_image": (5, 0)}),
        (8, "VAEDecode", {}, {"samples": (3, 0), "vae": (4, 2)}),
        (9, "SaveImage", {"filename_prefix": prefix + "txt2img"}, {"images": (8, 0)}),
    ])
    out["seed-sweep"] = ("Four seeds in one batch (batch_seed_mode incremental: seed, seed+1, ...).", [
        (4, "CheckpointLoaderSimple", {"ckpt_name": ckpt}, {}),
        (6, "CLIPTextEncode", {"text": "a shape" if model == "shapes" else pos}, {"clip": (4, 1)}),
        (7, "CLIPTextEncode", {"text": "" if model == "shapes" else neg}, {"clip": (4, 1)}),
        (5, "EmptyLatentImage", {"width": size, "height": size, "batch_size": 4}, {}),
        (3, "KSampler //Inspire", ksampler(100, 20, 5.0, "dpmpp_2m", "karras"),
         {"model": (4, 0), "positive": (6, 0), "negative": (7, 0), "latent_image": (5, 0)}),
        (8, "VAEDecode", {}, {"samples": (3, 0), "vae": (4, 2)}),
        (9, "SaveImage", {"filename_prefix": prefix + "seed-sweep"}, {"images": (8, 0)}),
    ])
    out["variation-seeds"] = ("Variations of one seed: variation_seed mixed in with growing strength.", base() + [
        (5, "EmptyLatentImage", {"width": size, "height": size, "batch_size": 4}, {}),
        (3, "KSampler //Inspire", ksampler(42, 20, 7.0, "euler_ancestral", "normal", batch_seed_mode="variation str inc:0.05",
                                           variation_seed=7, variation_strength=0.1, variation_method="slerp"),
         {"model": (4, 0), "positive": (6, 0), "negative": (7, 0), "latent_image": (5, 0)}),
        (8, "VAEDecode", {}, {"samples": (3, 0), "vae": (4, 2)}),
        (9, "SaveImage", {"filename_prefix": prefix + "variation"}, {"images": (8, 0)}),
    ])
    adv = dict(INSPIRE_DEFAULTS)
    out["two-pass"] = ("KSamplerAdvanced //Inspire in two passes: the first stops at step 12 and returns its "
                       "leftover noise, the second finishes with another prompt and no new noise.", base() + [
        (10, "CLIPTextEncode", {"text": alt}, {"clip": (4, 1)}),
        (5, "EmptyLatentImage", {"width": size, "height": size, "batch_size": 1}, {}),
        (3, "KSamplerAdvanced //Inspire",
         dict(add_noise=True, noise_seed=42, steps=20, cfg=7.0, sampler_name="dpmpp_2m", scheduler="karras",
              start_at_step=0, end_at_step=12, return_with_leftover_noise=True, **adv),
         {"model": (4, 0), "positive": (6, 0), "negative": (7, 0), "latent_image": (5, 0)}),
        (11, "KSamplerAdvanced //Inspire",
         dict(add_noise=False, noise_seed=42, steps=20, cfg=7.0, sampler_name="dpmpp_2m", scheduler="karras",
              start_at_step=12, end_at_step=10000, return_with_leftover_noise=False, **adv),
         {"model": (4, 0), "positive": (10, 0), "negative": (7, 0), "latent_image": (3, 0)}),
        (8, "VAEDecode", {}, {"samples": (11, 0), "vae": (4, 2)}),
        (9, "SaveImage", {"filename_prefix": prefix + "two-pass"}, {"images": (8, 0)}),
    ])
    out["progress"] = ("KSamplerProgress //Inspire: the final picture and every intermediate step (progress_latent) "
                       "decoded and saved; add --dump-progress DIR to also write the latents for `comfy-native preview`.",
                       base() + [
        (5, "EmptyLatentImage", {"width": size, "height": size, "batch_size": 1}, {}),
        (3, "KSamplerProgress //Inspire",
         dict(seed=42, steps=12, cfg=7.0, sampler_name="dpmpp_2m_sde", scheduler="karras", denoise=1.0,
              noise_mode="GPU(=A1111)", interval=1, omit_start_latent=True, omit_final_latent=False),
         {"model": (4, 0), "positive": (6, 0), "negative": (7, 0), "latent_image": (5, 0)}),
        (8, "VAEDecode", {}, {"samples": (3, 0), "vae": (4, 2)}),
        (9, "SaveImage", {"filename_prefix": prefix + "progress-final"}, {"images": (8, 0)}),
        (12, "VAEDecode", {}, {"samples": (3, 1), "vae": (4, 2)}),
        (13, "SaveImage", {"filename_prefix": prefix + "progress-steps"}, {"images": (12, 0)}),
    ])
    out["img2img"] = ("Image to image: the input picture is encoded, partly re-noised (denoise 0.6) and sampled "
                      "towards the prompt.", base(recolor) + [
        (10, "LoadImage", {"image": "example-shapes.png", "(upload)": "image"}, {}),
        (12, "VAEEncode", {}, {"pixels": (10, 0), "vae": (4, 2)}),
        (3, "KSampler //Inspire", ksampler(42, 20, 7.0, "dpmpp_2m", "karras", denoise=0.6),
         {"model": (4, 0), "positive": (6, 0), "negative": (7, 0), "latent_image": (12, 0)}),
        (8, "VAEDecode", {}, {"samples": (3, 0), "vae": (4, 2)}),
        (9, "SaveImage", {"filename_prefix": prefix + "img2img"}, {"images": (8, 0)}),
    ])
    return out


def api_format(nodes):
    api = {}
    for nid, cls, widgets, links in sorted(nodes, key=lambda n: n[0]):
        # widget values in widget order, then the links in socket order (the editor's API export order)
        inputs = {k: widgets[k] for k in WIDGETS[cls] if k in widgets and not k.startswith("(")}
        for name, _ in SOCKETS[cls]:
            if name in links:
                inputs[name] = [str(links[name][0]), links[name][1]]
        api[str(nid)] = {"inputs": inputs, "class_type": cls, "_meta": {"title": DISPLAY[cls]}}
    return api


def ui_format(nodes, description):
    link_rows, next_link = [], 1
    by_id = {n[0]: n for n in nodes}
    out_links = {}  # (node, slot) -> [link ids]
    in_links = {}   # (node, socket) -> link id
    for nid, cls, widgets, links in nodes:
        sockets = [s for s, _ in SOCKETS[cls]]
        for name, (src, slot) in links.items():
            out_type = OUTPUTS[by_id[src][1]][slot]
            out_type = out_type[1] if isinstance(out_type, tuple) else out_type
            link_rows.append([next_link, src, slot, nid, sockets.index(name), out_type])
            out_links.setdefault((src, slot), []).append(next_link)
            in_links[(nid, name)] = next_link
            next_link += 1
    ui_nodes = []
    for order, (nid, cls, widgets, links) in enumerate(nodes):
        node = {"id": nid, "type": cls, "pos": [100 + 320 * (order % 4), 100 + 260 * (order // 4)],
                "size": [300, 120], "flags": {}, "order": order, "mode": 0,
                "inputs": [{"name": s, "type": t, "link": in_links.get((nid, s))} for s, t in SOCKETS[cls]],
                "outputs": [], "properties": {"Node name for S&R": cls}}
        for slot, o in enumerate(OUTPUTS[cls]):
            name, typ = o if isinstance(o, tuple) else (o, o)
            node["outputs"].append({"name": name, "type": typ, "links": out_links.get((nid, slot), []),
                                    "slot_index": slot})
        if WIDGETS[cls]:
            node["widgets_values"] = [("fixed" if w == "(ctl)" else widgets.get(w, "image")) for w in WIDGETS[cls]]
        ui_nodes.append(node)
    note_id = max(n[0] for n in nodes) + 1
    ui_nodes.append({"id": note_id, "type": "Note", "pos": [100, -120], "size": [600, 90], "flags": {},
                     "order": len(nodes), "mode": 0, "properties": {"text": ""}, "widgets_values": [description]})
    return {"last_node_id": note_id, "last_link_id": next_link - 1, "nodes": ui_nodes, "links": link_rows,
            "groups": [], "config": {}, "extra": {}, "version": 0.4}


def main():
    import argparse
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workflows")
    for model in ("shapes", "sd15"):
        d = os.path.join(root, model)
        os.makedirs(d, exist_ok=True)
        for name, (desc, nodes) in graphs(model).items():
            with open(os.path.join(d, name + ".api.json"), "w") as f:
                json.dump(api_format(nodes), f, indent=2)
                f.write("\n")
            with open(os.path.join(d, name + ".ui.json"), "w") as f:
                json.dump(ui_format(nodes, desc), f, indent=2)
                f.write("\n")


if __name__ == "__main__":
    main()
