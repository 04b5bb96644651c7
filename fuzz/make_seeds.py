#!/usr/bin/env python3
"""Writes the committed seed corpus of every fuzz target (fuzz/corpus/NAME/). Everything is synthetic: a
drawn face, tiny ONNX graphs made here (no real weights), small galleries. Input layouts are documented in
src/fuzzing.rs. Needs: pip install onnx pillow numpy. Run from anywhere: python3 fuzz/make_seeds.py"""
import hashlib
import io
import json
import os
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
rng = np.random.default_rng(13)


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def face(size=48):
    """A drawn face: skin oval, dark eyes, nose, mouth, on a grey background."""
    im = Image.new("RGB", (size, size), (120, 125, 130))
    d = ImageDraw.Draw(im)
    s = size / 48
    d.ellipse([10 * s, 6 * s, 38 * s, 44 * s], fill=(224, 172, 140))
    for x in (17, 31):
        d.ellipse([(x - 3) * s, 18 * s, (x + 3) * s, 22 * s], fill=(40, 30, 30))
    d.line([24 * s, 22 * s, 23 * s, 30 * s], fill=(170, 120, 100), width=max(1, int(s)))
    d.line([18 * s, 35 * s, 30 * s, 35 * s], fill=(150, 60, 60), width=max(1, int(2 * s)))
    return im


# --- image descriptor: width u32, height u32, stride u64, format i8, rotation byte (90*(r%8)-180 degrees)
def descriptor(w, h, stride, fmt, degrees, pixels):
    return struct.pack("<IIQbB", w, h, stride, fmt, (degrees + 180) // 90) + bytes(pixels)


rgb = np.asarray(face(40), dtype=np.uint8)  # 40x40x3
h, w = rgb.shape[:2]
put("image_descriptor", "rgb8-face", descriptor(w, h, w * 3, 1, 0, rgb.tobytes()))
bgra = np.concatenate([rgb[..., ::-1], np.full((h, w, 1), 255, np.uint8)], axis=2)
padded = np.zeros((h, w * 4 + 8), np.uint8)
padded[:, : w * 4] = bgra.reshape(h, -1)
put("image_descriptor", "bgra8-stride-rot90", descriptor(w, h, w * 4 + 8, 4, 90, padded.tobytes()))
gray = rgb.mean(axis=2).astype(np.uint8)
put("image_descriptor", "gray8-rot180", descriptor(w, h, w, 5, 180, gray.tobytes()))
y = gray[:, :]
uv = np.full((h // 2, w), 128, np.uint8)
put("image_descriptor", "nv21-rot270", descriptor(w, h, w, 6, 270, y.tobytes() + uv.tobytes()))
put("image_descriptor", "nv12-odd", descriptor(5, 3, 6, 7, 0, range(6 * 3 + 6 * 2)))
put("image_descriptor", "i420-odd", descriptor(5, 3, 5, 8, 90, range(5 * 3 + 3 * 2 * 2)))
put("image_descriptor", "bgr8-1px", descriptor(1, 1, 3, 2, 0, [1, 2, 3]))
put("image_descriptor", "rgba8-short-last-row", descriptor(2, 2, 12, 3, 0, range(12 + 8)))


# --- planar descriptor: width, height, y_stride, uv_row_stride u32, uv_pixel_stride u8, rotation byte, u and v
# offsets u32 into the one buffer that follows
def planar(w, h, stride, uv_row, uv_px, degrees, u_off, v_off, buf):
    return struct.pack("<IIIIBBII", w, h, stride, uv_row, uv_px, (degrees + 180) // 90, u_off, v_off) + bytes(buf)


cw, ch = (w + 1) // 2, (h + 1) // 2
i420 = y.tobytes() + bytes([128]) * (2 * cw * ch)
put("planar_descriptor", "i420-face", planar(w, h, w, cw, 1, 0, w * h, w * h + cw * ch, i420))
nv12 = y.tobytes() + bytes([128]) * (2 * cw * ch)  # interleaved: V is U one byte on
put("planar_descriptor", "nv12-face-rot90", planar(w, h, w, 2 * cw, 2, 90, w * h, w * h + 1, nv12))
put("planar_descriptor", "odd-short-last-row", planar(5, 3, 8, 8, 2, 0, 24, 25, range(24 + 8 + 5)))

# --- encoded images
for fmt, opts in [("PNG", {}), ("JPEG", {"quality": 80}), ("WEBP", {"lossless": True}), ("WEBP", {"quality": 50})]:
    b = io.BytesIO()
    face(48).save(b, fmt, **opts)
    put("encoded_image", f"face-{fmt.lower()}{'-lossless' if opts.get('lossless') else ''}", b.getvalue())
for name, im, opts in [
    ("gray.png", face(24).convert("L"), {}),
    ("palette-interlaced.png", face(24).convert("P"), {"interlace": 1}),
    ("rgba.png", face(24).convert("RGBA"), {}),
    ("progressive.jpg", face(32), {"progressive": True, "quality": 60}),
    ("gray.jpg", face(24).convert("L"), {}),
    ("cmyk.jpg", face(16).convert("CMYK"), {}),
]:
    b = io.BytesIO()
    im.save(b, name.split(".")[1].replace("jpg", "jpeg").upper(), **opts)
    put("encoded_image", name, b.getvalue())
b = io.BytesIO()
Image.fromarray((np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 200)).save(b, "PNG")
put("encoded_image", "gray16.png", b.getvalue())


# --- model pack: a tiny detector with YuNet's outputs, a tiny embedder and a tiny quality model
def init(name, shape, scale=0.5):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def detector():
    nodes, inits, outs = [], [], []
    for s in (8, 16, 32):
        nodes.append(helper.make_node("AveragePool", ["input"], [f"p{s}"], kernel_shape=[s, s], strides=[s, s]))
        for head, c in (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10)):
            inits += [init(f"w_{head}{s}", [c, 3, 1, 1], 0.01), init(f"b_{head}{s}", [c], 0.1)]
            inits.append(numpy_helper.from_array(np.array([1, -1, c], np.int64), f"shape_{head}{s}"))
            nodes.append(helper.make_node("Conv", [f"p{s}", f"w_{head}{s}", f"b_{head}{s}"], [f"c_{head}{s}"]))
            src = f"c_{head}{s}"
            if head in ("cls", "obj"):
                nodes.append(helper.make_node("Sigmoid", [src], [f"s_{head}{s}"]))
                src = f"s_{head}{s}"
            nodes.append(helper.make_node("Transpose", [src], [f"t_{head}{s}"], perm=[0, 2, 3, 1]))
            nodes.append(helper.make_node("Reshape", [f"t_{head}{s}", f"shape_{head}{s}"], [f"{head}_{s}"]))
            outs.append(helper.make_tensor_value_info(f"{head}_{s}", TensorProto.FLOAT, [1, f"n{s}", c]))
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])
    g = helper.make_graph(nodes, "tiny_detector", [x], outs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="facekit-seeds")


def crop_model(name, inp, shape, out, dim):
    """Global average pool (NCHW) or mean over H, W (NHWC), then a dense layer to `dim` values."""
    nodes = []
    if shape[1] == 3:
        nodes.append(helper.make_node("GlobalAveragePool", [inp], ["gap"]))
    else:
        nodes.append(helper.make_node("ReduceMean", [inp], ["gap"], axes=[1, 2], keepdims=1))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    nodes.append(helper.make_node("Gemm", ["flat", "w", "b"], [out]))
    inits = [init("w", [3, dim]), init("b", [dim], 1.0)]
    g = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info(inp, TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, dim])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="facekit-seeds")


models = {
    "det.onnx": detector(),
    "emb.onnx": crop_model("tiny_embedder", "input0", [1, 3, 16, 16], "output0", 8),
    "qual.onnx": crop_model("tiny_quality", "q_in", [1, 16, 16, 3], "q_out", 1),
}
blobs = {}
for f, m in models.items():
    onnx.checker.check_model(m)
    blobs[f] = m.SerializeToString()


def spec(name, task, file, inp, layout, channels, **extra):
    s = {"name": name, "task": task, "file": file, "sha256": hashlib.sha256(blobs[file]).hexdigest(),
         "input": {"name": inp, "layout": layout, "channels": channels, "scale": 1.0, "mean": [0.0, 0.0, 0.0],
                   "std": [1.0, 1.0, 1.0], **extra.pop("input", {})},
         "licence": "synthetic (fuzz seed)", "source": "fuzz/make_seeds.py"}
    s.update(extra)
    return s


arcface16 = [[p[0] / 7, p[1] / 7] for p in [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]]]
manifest = {
    "format": 1, "name": "tiny-fuzz-seed",
    "defaults": {"detector": "tiny_det", "embedder": "tiny_emb", "quality": "tiny_q"},
    "models": [
        spec("tiny_det", "detect", "det.onnx", "input", "NCHW", "BGR", input={"size_multiple": 32}, strides=[8, 16, 32]),
        spec("tiny_emb", "embed", "emb.onnx", "input0", "NCHW", "RGB", input={"width": 16, "height": 16},
             output={"name": "output0", "dim": 8},
             template={"width": 16, "height": 16, "points": arcface16, "from": [[0], [1], [2], [3], [4]]},
             calibrations=[{"dataset": "none (fuzz seed)", "pipeline": "tiny", "flip": False, "genuine_pairs": 0,
                            "impostor_pairs": 0, "thresholds": {"far_1e-3": 0.5}}]),
        spec("tiny_q", "quality", "qual.onnx", "q_in", "NHWC", "BGR", input={"width": 16, "height": 16},
             output={"name": "q_out", "dim": 1},
             template={"width": 16, "height": 16, "points": [[5.5, 7.4], [10.5, 7.4], [8.0, 13.2]],
                       "from": [[0], [1], [3, 4]]}),
    ],
}


def container(entries):
    out = b"FKPACK\0\x01" + struct.pack("<I", len(entries))
    for name, data in entries:
        out += struct.pack("<H", len(name)) + name.encode() + struct.pack("<Q", len(data)) + data
    return out


mtext = json.dumps(manifest, separators=(",", ":")).encode()
full = container([("manifest.json", mtext)] + sorted(blobs.items()))
put("model_pack", "tiny-valid", b"\x00" + full)
put("model_pack", "tiny-valid-quality-resealed", b"\x03" + full)
no_q = dict(manifest, defaults={"detector": "tiny_det", "embedder": "tiny_emb"})
no_q["models"] = manifest["models"][:2]
put("model_pack", "tiny-no-quality", b"\x00" + container(
    [("manifest.json", json.dumps(no_q).encode()), ("det.onnx", blobs["det.onnx"]), ("emb.onnx", blobs["emb.onnx"])]))
put("model_pack", "manifest-only", b"\x00" + container([("manifest.json", mtext)]))


# --- gallery files (format: src/gallery/file.rs), model "fuzz-model", dim 8
def gallery(idents, model=b"fuzz-model", dim=8):
    rows = sum(len(t) for _, t in idents)
    body = b"FKGALRY\0" + struct.pack("<IH", 1, len(model)) + model + struct.pack("<IQQ", dim, len(idents), rows)
    for key, templates in idents:
        body += struct.pack("<H", len(key)) + key + struct.pack("<I", len(templates))
        for t in templates:
            t = np.asarray(t, np.float32)
            body += (t / np.linalg.norm(t)).astype("<f4").tobytes()
    return body + hashlib.sha256(body).digest()


def unit(seed):
    return np.random.default_rng(seed).standard_normal(8)


put("gallery_file", "empty", b"\x00" + gallery([]))
put("gallery_file", "three", b"\x02" + gallery([(b"alice", [unit(1)]), (b"bob", [unit(2), unit(3)]), (b"7", [unit(4)])]))
put("gallery_file", "utf8-keys", b"\x05" + gallery([("zoë".encode(), [unit(5)]), ("名前".encode(), [unit(6)])]))
put("gallery_file", "other-model", b"\x00" + gallery([(b"x", [unit(7)])], model=b"other", dim=4))
put("gallery_file", "version2-resealed", b"\x01" + gallery([(b"x", [unit(8)])]).replace(b"FKGALRY\0\x01", b"FKGALRY\0\x02", 1))

# --- C text: selector (mod 3: options, identity keys, file names), then NUL-separated fields
put("c_text", "options", b"\x00" + b"\0".join([
    b"detector_input_size", b"64", b"quality.min_sharpness", b"40", b"flip", b"yes", b"operating_point", b"far_1e-4",
    b"quality_policy", b"gate", b"score_threshold", b"0.7", b"max_faces", b"3", b"detector", b"yunet_n"]))
put("c_text", "options-bad", b"\x03" + b"\0".join([b"detector_input_size", b"1e9", b"quality.max_yaw", b"-1", b"nope", b"1"]))
put("c_text", "ids", b"\x01" + b"\0".join([b"alice", b"bob", "zoë".encode(), b"alice", b"x" * 255, b"y" * 256, b"\xff"]))
put("c_text", "paths", b"\x02" + b"\0".join([b"a.png", b"g.fkg", b"m", b"missing", b"", b"..", b"new.fkg"]))

# --- findings, made by hand (fuzz/regressions/NAME/, replayed by tests/fuzz_corpus.rs like the fuzzer's own)
# Finding 1: a graph output that no node makes (tract's ONNX loader panicked on it), in a pack whose sha256s match.
bad = crop_model("tiny_embedder", "input0", [1, 3, 16, 16], "output0", 8)
bad.graph.output[0].name = "made_by_no_node"
bad_blobs = dict(blobs, **{"emb.onnx": bad.SerializeToString()})
bad_manifest = json.loads(json.dumps(manifest))
for s in bad_manifest["models"]:
    s["sha256"] = hashlib.sha256(bad_blobs[s["file"]]).hexdigest()
    if s["name"] == "tiny_emb":
        s["output"]["name"] = "made_by_no_node"
os.makedirs(os.path.join(HERE, "regressions", "model_pack"), exist_ok=True)
with open(os.path.join(HERE, "regressions", "model_pack", "graph-output-made-by-no-node"), "wb") as f:
    f.write(b"\x00" + container([("manifest.json", json.dumps(bad_manifest, separators=(",", ":")).encode())]
                                + sorted(bad_blobs.items())))

for t in sorted(os.listdir(CORPUS)):
    files = os.listdir(os.path.join(CORPUS, t))
    print(t, len(files), "files,", sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files), "bytes")
