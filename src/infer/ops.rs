//! Operators where tract 0.23's generic code is slow on the shapes our models have, swapped in for tract's own
//! after decluttering. Each computes exactly what the node it replaces computes. Measured per node with tract's
//! plan on this machine (BENCHMARKS.md, "Speed").
//!
//! Tried and dropped: a direct convolution for the 3-channel first layers (YuNet, LightQNet) in plain Rust was
//! slower than tract's, which has AVX2 kernels where portable Rust gets SSE2.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{
    anyhow, args_1, as_op, ensure, op_as_typed_op, op_out_of_plan, EvalContext, EvalOp, Op, StaticName, TypedOp,
};
use tract_onnx::tract_core::ops::cnn::{MaxPool, PaddingSpec};
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
}
