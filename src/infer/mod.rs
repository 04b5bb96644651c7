//! The thin layer over tract: build an optimised plan for one input shape once, check the model's
//! inputs/outputs against the manifest, turn an RGB image into the model's tensor, and run it.
//! Plans are immutable and shared by all threads; each call takes a reusable run state from a small pool so
//! steady-state inference allocates little and no caller waits for another.

use crate::error::{Error, Result};
use crate::image::Image;
use crate::pack::{Channels, InputSpec, Layout, ModelSpec, Task};
use std::sync::{Arc, Mutex};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::anyhow;

mod ops;

type Plan = Arc<TypedRunnableModel>;
type State = TypedSimpleState;

/// Parses ONNX bytes (no shapes fixed yet). The protobuf is decoded and checked first ([`check_graph`]), then
/// turned into a tract model behind [`shield`].
pub(crate) fn parse_onnx(bytes: &[u8], what: &str) -> Result<InferenceModel> {
    let fmt = |e: TractError| Error::ModelFormat(format!("{what}: not a loadable ONNX model: {e}"));
    let onnx = tract_onnx::onnx().with_ignore_value_info(true);
    let proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(fmt)?;
    let graph = proto.graph.as_ref().ok_or_else(|| Error::ModelFormat(format!("{what}: the ONNX model has no graph")))?;
    check_graph(graph, what)?;
    shield(what, || onnx.model_for_proto_model(&proto))?.map_err(fmt)
}

/// Checks what tract's ONNX loader assumes without checking (it panics otherwise, found by fuzzing: see
/// RELIABILITY.md): every graph output, in the graph and in its subgraphs, is made by a node or is an input
/// or an initializer of that graph.
fn check_graph(graph: &tract_onnx::pb::GraphProto, what: &str) -> Result<()> {
    let defined: std::collections::HashSet<&str> = (graph.input.iter().map(|i| i.name.as_str()))
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(graph.sparse_initializer.iter().filter_map(|t| t.values.as_ref()).map(|t| t.name.as_str()))
        .chain(graph.node.iter().flat_map(|n| n.output.iter().map(String::as_str)))
        .collect();
    if let Some(o) = graph.output.iter().find(|o| !defined.contains(o.name.as_str())) {
        return Err(Error::ModelFormat(format!("{what}: graph output '{}' is made by no node", o.name)));
    }
    // tract indexes the input's axes with `perm` unchecked (a fuzzing finding): it must permute 0..n.
    for n in graph.node.iter().filter(|n| n.op_type == "Transpose") {
        for a in n.attribute.iter().filter(|a| a.name == "perm") {
            let mut seen = vec![false; a.ints.len()];
            let ok = a.ints.iter().all(|&i| usize::try_from(i).ok().and_then(|i| seen.get_mut(i)).is_some_and(|s| !std::mem::replace(s, true)));
            if !ok {
                return Err(Error::ModelFormat(format!("{what}: Transpose '{}' has perm {:?}, not a permutation of its axes", n.name, a.ints)));
            }
        }
    }
    let subgraphs = graph.node.iter().flat_map(|n| &n.attribute).flat_map(|a| a.g.iter().chain(&a.graphs));
    subgraphs.into_iter().try_for_each(|g| check_graph(g, what))
}

/// Runs a call into tract, turning a panic inside it into [`Error::ModelFormat`]: tract trusts the models it
/// loads more than facekit may trust a pack from outside. A second line behind [`check_graph`]; every profile,
/// `device` included, unwinds (a build with `panic = "abort"` would keep only the first line).
fn shield<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
        Error::ModelFormat(format!("{what}: the inference library failed on this model: {}", msg.unwrap_or_default()))
    })
}

/// An optimised plan for one fixed input shape, with its output names resolved to indices.
pub(crate) struct Net {
    plan: Plan,
    outputs: Vec<usize>,
    pool: Mutex<Vec<State>>,
    pub shape: Vec<usize>,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net").field("shape", &self.shape).finish()
    }
}

/// Per-run states kept for reuse; more than this many concurrent callers just allocate their own.
const POOL_MAX: usize = 16;

impl Net {
    /// Pins `input` (checked against the model's single input) to `shape` and resolves `outputs` by name.
    pub fn build(model: &InferenceModel, spec: &ModelSpec, shape: &[usize], outputs: &[&str]) -> Result<Self> {
        let (what, input) = (spec.name.as_str(), spec.input.name.as_str());
        let fmt = |e: TractError| Error::ModelFormat(format!("{what}: {e}"));
        let inputs = model.input_outlets().map_err(fmt)?;
        if inputs.len() != 1 {
            return Err(Error::ModelFormat(format!("{what}: expected one input, model has {}", inputs.len())));
        }
        let in_name = &model.node(inputs[0].node).name;
        if in_name != input {
            return Err(Error::ModelFormat(format!("{what}: manifest says input '{input}', model has '{in_name}'")));
        }
        let names: Vec<String> = model
            .output_outlets()
            .map_err(fmt)?
            .iter()
            .map(|o| model.outlet_label(*o).unwrap_or(&model.node(o.node).name).to_string())
            .collect();
        let idx = outputs
            .iter()
            .map(|want| {
                names.iter().position(|n| n == want).ok_or_else(|| {
                    Error::ModelFormat(format!("{what}: manifest names output '{want}', model has {names:?}"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Declutter, swap in our faster ops (max pool, PRelu), run the convolutions channel-last when the manifest says so, optimise.
        let nhwc = spec.compute_layout == Some(Layout::NHWC);
        let plan = shield(what, || model
            .clone()
            .with_input_fact(0, f32::fact(shape).into())
            .and_then(|m| m.into_typed())
            .and_then(|m| m.into_decluttered())
            .and_then(|mut m| {
                ops::fast_max_pools(&mut m)?;
                ops::fused_prelus(&mut m)?;
                if nhwc {
                    let t = tract_onnx::tract_core::transform::get_transform("conv_nhwc")?
                        .ok_or_else(|| anyhow!("tract has no conv_nhwc transform"))?;
                    m.transform(&*t)?;
                }
                m.into_optimized()
            })
            .and_then(|m| m.into_runnable()))?
            .map_err(|e| Error::ModelFormat(format!("{what}: cannot prepare for input {shape:?}: {e}")))?;
        Ok(Net { plan, outputs: idx, pool: Mutex::new(Vec::new()), shape: shape.to_vec() })
    }

    /// Runs on `input` (which must have `self.shape`) and returns the requested outputs, flattened.
    pub fn run(&self, input: Tensor) -> Result<Vec<Vec<f32>>> {
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        let mut state = match pooled {
            Some(s) => s,
            None => self.plan.spawn().map_err(|e| Error::Internal(format!("inference state: {e}")))?,
        };
        let out = state.run(tvec!(input.into())).map_err(|e| Error::Internal(format!("inference: {e}")))?;
        if let Ok(mut p) = self.pool.lock() {
            if p.len() < POOL_MAX {
                p.push(state);
            }
        }
        self.outputs
            .iter()
            .map(|&i| {
                let t = out.get(i).ok_or_else(|| Error::Internal("missing output".into()))?;
                let v = t.to_plain_array_view::<f32>().map_err(|e| Error::Internal(format!("output type: {e}")))?;
                Ok(v.iter().copied().collect())
            })
            .collect()
    }
}

/// A model fed one crop of fixed size (embedders, quality, liveness): its output and its plan. How the crop is
/// made (an alignment template, a scaled box) is the stage's business.
#[derive(Debug)]
pub(crate) struct CropModel {
    pub spec: ModelSpec,
    pub dim: usize,
    net: Net,
}

impl CropModel {
    /// Loads a model of `task`, checks the manifest gives an output and an input size, and runs it once on a
    /// blank crop so a wrong output size is a load-time error, not a first-frame surprise.
    pub fn load(spec: &ModelSpec, bytes: &[u8], task: Task) -> Result<Self> {
        let what = &spec.name;
        if spec.task != task {
            return Err(Error::ModelFormat(format!("model '{what}' is a {:?} model, not {task:?}", spec.task)));
        }
        let out = spec.output.as_ref().ok_or_else(|| Error::ModelFormat(format!("{what}: no output")))?;
        let (w, h) = match (spec.input.width, spec.input.height) {
            (Some(w), Some(h)) if (1..=1024).contains(&w) && (1..=1024).contains(&h) => (w, h),
            _ => return Err(Error::ModelFormat(format!("{what}: manifest must give input width and height (1..=1024)"))),
        };
        let shape = match spec.input.layout {
            Layout::NCHW => [1, 3, h, w],
            Layout::NHWC => [1, h, w, 3],
        };
        let net = Net::build(&parse_onnx(bytes, what)?, spec, &shape, &[&out.name])?;
        let m = CropModel { spec: spec.clone(), dim: out.dim, net };
        let probe = m
            .run(&Image::zeroed(w as u32, h as u32))
            .map_err(|e| Error::ModelFormat(format!("{what}: does not run on a {w}x{h} input as the manifest says: {e}")))?;
        if probe.len() != m.dim {
            return Err(Error::ModelFormat(format!("{what}: output has {} values, manifest says {}", probe.len(), m.dim)));
        }
        Ok(m)
    }

    /// Runs on a crop of the model's input size.
    pub fn run(&self, crop: &Image) -> Result<Vec<f32>> {
        let (w, h) = (crop.width() as usize, crop.height() as usize);
        if self.spec.input.width != Some(w) || self.spec.input.height != Some(h) {
            return Err(Error::invalid(format!("crop is {w}x{h}, {} wants {:?}", self.spec.name, self.net.shape)));
        }
        let mut out = self.net.run(to_tensor(crop, &self.spec.input, w, h))?;
        Ok(out.swap_remove(0))
    }
}

/// Writes `img` (RGB8) into a batch-1 tensor laid out as `spec` says, placed at the top-left of a
/// `tw`×`th` canvas padded with zeros (the detector pads; other models have `tw`,`th` = the image size).
pub(crate) fn to_tensor(img: &Image, spec: &InputSpec, tw: usize, th: usize) -> Tensor {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let order: [usize; 3] = match spec.channels {
        Channels::RGB => [0, 1, 2],
        Channels::BGR => [2, 1, 0],
    };
    // Precompute per-channel affine: v = p * a + b.
    let a: [f32; 3] = std::array::from_fn(|c| spec.scale / spec.std[c]);
    let b: [f32; 3] = std::array::from_fn(|c| -spec.mean[c] / spec.std[c]);
    let px = img.pixels();
    let mut data = vec![0f32; 3 * tw * th];
    // Padding holds the value a zero pixel maps to, as the reference pads raw pixels with 0 before normalising.
    let pad: [f32; 3] = b;
    match spec.layout {
        Layout::NCHW => {
            for (c, plane) in data.chunks_exact_mut(tw * th).enumerate() {
                let src_c = order[c];
                if w < tw || h < th {
                    plane.fill(pad[c]);
                }
                for y in 0..h.min(th) {
                    let row = &px[y * w * 3..(y + 1) * w * 3];
                    let dst = &mut plane[y * tw..y * tw + w.min(tw)];
                    for (x, d) in dst.iter_mut().enumerate() {
                        *d = row[3 * x + src_c] as f32 * a[c] + b[c];
                    }
                }
            }
        }
        Layout::NHWC => {
            if w < tw || h < th {
                for p in data.chunks_exact_mut(3) {
                    p.copy_from_slice(&pad);
                }
            }
            for y in 0..h.min(th) {
                for x in 0..w.min(tw) {
                    let s = (y * w + x) * 3;
                    let d = (y * tw + x) * 3;
                    for c in 0..3 {
                        data[d + c] = px[s + order[c]] as f32 * a[c] + b[c];
                    }
                }
            }
        }
    }
    let shape = match spec.layout {
        Layout::NCHW => [1, 3, th, tw],
        Layout::NHWC => [1, th, tw, 3],
    };
    tract_ndarray::Array4::from_shape_vec(shape, data).expect("shape matches data length").into_tensor()
}
