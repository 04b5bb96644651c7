//! Operators where tract 0.23's generic code is slow on the shapes our models have, swapped in for tract's own
//! after decluttering. Each computes exactly what the node it replaces computes. Measured per node with tract's
//! plan on this machine (BENCHMARKS.md, "Speed").
//!
//! Tried and dropped: a direct convolution for the 3-channel first layers (YuNet, LightQNet) in plain Rust was
//! slower than tract's, which has AVX2 kernels where portable Rust gets SSE2.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{
    anyhow, args_1, as_op, ensure, op_as_typed_op, op_out_of_plan, EvalContext, EvalOp, Op, StaticName, TypedModelPatch,
    TypedOp,
};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{MaxPool, PaddingSpec};
use tract_onnx::tract_core::ops::logic::{CompGT, Iff};
use tract_onnx::tract_core::ops::math::Mul;
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Swaps tract's max pool for [`MaxPool2x2`] wherever it is a 2×2, stride-2, unpadded f32 NCHW pool (all four of
/// YuNet's). Same values: the max of the same four inputs.
pub(crate) fn fast_max_pools(m: &mut TypedModel) -> TractResult<()> {
    for id in 0..m.nodes().len() {
        let fits = m.node(id).op_as::<MaxPool>().is_some_and(|p| {
            let s = &p.pool_spec;
            p.with_index_outputs.is_none()
                && s.data_format == DataFormat::NCHW
                && s.kernel_shape[..] == [2, 2]
                && s.strides.as_deref() == Some(&[2, 2][..])
                && s.dilations.as_deref().is_none_or(|d| d.iter().all(|&x| x == 1))
                && matches!(s.padding, PaddingSpec::Valid)
        });
        let input = m.node(id).inputs.first().copied();
        if let (true, Some(input)) = (fits, input) {
            let fact = m.outlet_fact(input)?;
            if fact.datum_type == f32::datum_type() && fact.rank() == 4 && fact.shape.as_concrete().is_some() {
                m.node_mut(id).op = Box::new(MaxPool2x2);
            }
        }
    }
    Ok(())
}

/// 2×2 stride-2 max pooling on f32 NCHW. tract's generic pool walks each window with bounds checks: YuNet's four
/// pools took 2.1 ms of its 9 ms at 320×192; this row loop takes about a tenth of that.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct MaxPool2x2;

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "facekit.MaxPool2x2".into()
    }
    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        ensure!(x.rank() == 4, "MaxPool2x2 wants NCHW, got {:?}", x.shape());
        let (nc, h, w) = (x.shape()[0] * x.shape()[1], x.shape()[2], x.shape()[3]);
        let (oh, ow) = (h / 2, w / 2);
        let view = x.try_as_plain_ram()?;
        let src: &[f32] = view.as_slice()?;
        let mut out = vec![0f32; nc * oh * ow];
        if oh > 0 && ow > 0 {
            for (plane, o) in src.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
                for (y, orow) in o.chunks_exact_mut(ow).enumerate() {
                    let r0 = &plane[2 * y * w..2 * y * w + 2 * ow];
                    let r1 = &plane[(2 * y + 1) * w..(2 * y + 1) * w + 2 * ow];
                    for ((d, a), b) in orow.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
                        *d = a[0].max(a[1]).max(b[0].max(b[1]));
                    }
                }
            }
        }
        Ok(tvec!(Tensor::from_shape(&[x.shape()[0], x.shape()[1], oh, ow], &out)?.into_tvalue()))
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = inputs[0].shape.as_concrete().ok_or_else(|| anyhow!("MaxPool2x2 needs a concrete shape"))?;
        ensure!(s.len() == 4, "MaxPool2x2 wants NCHW, got {s:?}");
        Ok(tvec!(f32::fact([s[0], s[1], s[2] / 2, s[3] / 2])))
    }
    as_op!();
}

/// Fuses tract's expansion of ONNX `PRelu` — `Iff(0 > x, x · slope, x)`, three element-wise passes — into one
/// [`PRelu`] pass where the slope is a per-channel (or single) constant on an f32 NCHW tensor. MiniFASNet has 33
/// of them; the three passes took 9.5 of its 17 ms. Same values: the same product, chosen by the same test.
pub(crate) fn fused_prelus(m: &mut TypedModel) -> TractResult<()> {
    for id in 0..m.nodes().len() {
        let Some(fused) = prelu_of(m, id)? else { continue };
        let (x, op) = fused;
        let mut patch = TypedModelPatch::default();
        let tapped = patch.tap_model(m, x)?;
        let out = patch.wire_node(format!("{}.fused", m.node(id).name), op, &[tapped])?;
        patch.shunt_outside(m, OutletId::new(id, 0), out[0])?;
        patch.apply(m)?;
    }
    Ok(())
}

/// The input and the fused op if node `id` is the `Iff` of a PRelu expansion that [`PRelu`] can compute.
fn prelu_of(m: &TypedModel, id: usize) -> TractResult<Option<(OutletId, PRelu)>> {
    let node = m.node(id);
    if !node.op_is::<Iff>() || node.inputs.len() != 3 {
        return Ok(None);
    }
    let (test, product, x) = (node.inputs[0], node.inputs[1], node.inputs[2]);
    let bin = |o: OutletId| m.node(o.node).op_as::<TypedBinOp>().map(|b| (b, m.node(o.node).inputs.clone()));
    let konst = |o: OutletId| m.outlet_fact(o).ok().and_then(|f| f.konst.clone());
    // test = 0 > x
    let Some((gt, gt_in)) = bin(test) else { return Ok(None) };
    let zero = gt_in.first().and_then(|&o| konst(o));
    let all_zero = |t: &Tensor| t.try_as_plain_ram().and_then(|v| Ok(v.as_slice::<f32>()?.iter().all(|&a| a == 0.0))).unwrap_or(false);
    if !gt.0.is::<CompGT>() || gt_in.get(1) != Some(&x) || !zero.is_some_and(|z| all_zero(&z)) {
        return Ok(None);
    }
    // product = x · slope (either order)
    let Some((mul, mul_in)) = bin(product) else { return Ok(None) };
    let slope = match mul_in[..] {
        [a, b] if a == x => konst(b),
        [a, b] if b == x => konst(a),
        _ => None,
    };
    let fact = m.outlet_fact(x)?;
    let (Some(slope), Some(shape)) = (slope.filter(|_| mul.0.is::<Mul>()), fact.shape.as_concrete()) else { return Ok(None) };
    if fact.datum_type != f32::datum_type() || shape.len() != 4 || slope.datum_type() != f32::datum_type() {
        return Ok(None);
    }
    let per_channel = slope.shape() == [1, shape[1], 1, 1];
    if !per_channel && slope.len() != 1 {
        return Ok(None);
    }
    Ok(Some((x, PRelu { slope })))
}

/// `x > 0 or x == 0 or NaN: x; else x · slope[c]` on f32 NCHW, with one slope per channel (or one for all).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PRelu {
    slope: Arc<Tensor>,
}

impl Op for PRelu {
    fn name(&self) -> StaticName {
        "facekit.PRelu".into()
    }
    op_as_typed_op!();
}

impl EvalOp for PRelu {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut x = args_1!(inputs).into_tensor();
        ensure!(x.rank() == 4, "PRelu wants NCHW, got {:?}", x.shape());
        let (c, hw) = (x.shape()[1], x.shape()[2] * x.shape()[3]);
        let view = self.slope.try_as_plain_ram()?;
        let slope: &[f32] = view.as_slice()?;
        ensure!(slope.len() == c || slope.len() == 1, "PRelu: {} slopes for {c} channels", slope.len());
        let mut data = x.try_as_plain_ram_mut()?;
        for (k, plane) in data.as_slice_mut::<f32>()?.chunks_exact_mut(hw.max(1)).enumerate() {
            let s = slope[if slope.len() == 1 { 0 } else { k % c }];
            // A select rather than a branch, so the loop vectorises; `v < 0` is `0 > v`, NaN included.
            plane.iter_mut().for_each(|v| *v = if *v < 0.0 { *v * s } else { *v });
        }
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for PRelu {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].without_value()))
    }
    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::PoolSpec;

    /// The swapped pool gives tract's values, odd sizes included (the last row/column is dropped).
    #[test]
    fn max_pool_2x2_equals_tracts() {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([1, 3, 5, 7])).unwrap();
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![2, 2],
            padding: PaddingSpec::Valid,
            dilations: None,
            strides: Some(tvec![2, 2]),
            input_channels: 3,
            output_channels: 3,
        };
        let y = m.wire_node("pool", MaxPool { pool_spec: spec, with_index_outputs: None }, &[x]).unwrap();
        m.select_output_outlets(&y).unwrap();
        let input: Tensor = tract_ndarray::Array4::from_shape_fn((1, 3, 5, 7), |(_, c, y, x)| ((c * 31 + y * 7 + x * 13) % 17) as f32 - 8.0).into();
        let run = |m: TypedModel| m.into_runnable().unwrap().run(tvec![input.clone().into()]).unwrap().remove(0);
        let theirs = run(m.clone());
        fast_max_pools(&mut m).unwrap();
        assert_eq!(m.node(1).op().name(), "facekit.MaxPool2x2");
        let ours = run(m);
        assert_eq!(ours.shape(), &[1, 3, 2, 3]);
        assert_eq!(ours.to_plain_array_view::<f32>().unwrap(), theirs.to_plain_array_view::<f32>().unwrap());
    }

    /// The fused PRelu gives the bits of tract's three-node expansion, zeros, negative zeros and NaN included.
    #[test]
    fn fused_prelu_equals_tracts_expansion() {
        use tract_onnx::tract_core::ops::logic::comp_gt;
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([1, 3, 2, 4])).unwrap();
        let zero = m.add_const("zero", tensor4(&[[[[0f32]]]])).unwrap();
        let slope = m.add_const("slope", tensor4(&[[[[0.25f32]], [[-1.5]], [[3.0]]]])).unwrap();
        let test = m.wire_node("test", TypedBinOp(comp_gt(), None), &[zero, x]).unwrap()[0];
        let product = m.wire_node("mul", TypedBinOp(Box::new(Mul), None), &[x, slope]).unwrap()[0];
        let y = m.wire_node("iff", Iff, &[test, product, x]).unwrap();
        m.select_output_outlets(&y).unwrap();
        let values = [1.0f32, -1.0, 0.0, -0.0, f32::NAN, -3.7, 1e-30, -1e30, 2.5, -0.1, 7.0, -7.0];
        let input: Tensor = tract_ndarray::Array4::from_shape_fn((1, 3, 2, 4), |(_, c, y, x)| values[(c * 5 + y * 4 + x) % 12]).into();
        let run = |m: TypedModel| m.into_optimized().unwrap().into_runnable().unwrap().run(tvec![input.clone().into()]).unwrap().remove(0);
        let theirs = run(m.clone());
        fused_prelus(&mut m).unwrap();
        let fused = m.into_optimized().unwrap();
        assert!(fused.nodes().iter().any(|n| n.op().name() == "facekit.PRelu"), "the pattern was fused");
        assert!(!fused.nodes().iter().any(|n| n.op_is::<Iff>()), "the expansion is gone");
        let ours = fused.into_runnable().unwrap().run(tvec![input.clone().into()]).unwrap().remove(0);
        let bits = |t: &TValue| t.to_plain_array_view::<f32>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&ours), bits(&theirs));
    }
}
