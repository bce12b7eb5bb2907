//! The depthwise convolution custom op against candle's own grouped convolution (with the
//! TF "SAME" padding applied by hand), forward and backward, on random inputs.

use candle_core::{Device, Tensor, Var};
use photosift::model::kernels::planar_depthwise::{FusedDepthwise, depthwise_conv2d, same_padding};

fn reference(x: &Tensor, w: &Tensor, stride: usize) -> Tensor {
    let (_, c, h, wd) = x.dims4().unwrap();
    let k = w.dim(2).unwrap();
    let (_, t, b) = same_padding(h, k, stride);
    let (_, l, r) = same_padding(wd, k, stride);
    let xp = x.pad_with_zeros(2, t, b).unwrap().pad_with_zeros(3, l, r).unwrap();
    xp.conv2d(w, 0, stride, 1, c).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
}

const SHAPES: &[(usize, usize, usize, usize)] = &[
    (1, 1, 1, 1),
    (2, 3, 7, 7),
    (1, 5, 8, 9),
    (3, 4, 13, 6),
    (2, 8, 16, 16),
    (1, 2, 2, 11),
    (1, 3, 5, 4),
];

#[test]
fn forward_matches_candle_grouped_conv() {
    let dev = Device::Cpu;
    for &(n, c, h, w) in SHAPES {
        for k in [3, 5] {
            for stride in [1, 2] {
                let x = Tensor::randn(0f32, 1f32, (n, c, h, w), &dev).unwrap();
                let wt = Tensor::randn(0f32, 1f32, (c, 1, k, k), &dev).unwrap();
                let ours = depthwise_conv2d(&x, &wt, stride).unwrap();
                let theirs = reference(&x, &wt, stride);
                let d = max_diff(&ours, &theirs);
                assert!(d < 1e-4, "n{n} c{c} {h}x{w} k{k} s{stride}: diff {d}");
            }
        }
    }
}

#[test]
fn fused_bias_and_relu6_match_separate_ops() {
    let dev = Device::Cpu;
    let (n, c, h, w, k) = (2, 6, 9, 10, 5);
    for stride in [1, 2] {
        let x = Tensor::randn(0f32, 3f32, (n, c, h, w), &dev).unwrap();
        let wt = Tensor::randn(0f32, 1f32, (c, 1, k, k), &dev).unwrap();
        let b = Tensor::randn(0f32, 2f32, c, &dev).unwrap();
        let op = FusedDepthwise {
            weight: wt.flatten_all().unwrap().to_vec1().unwrap(),
            bias: b.to_vec1().unwrap(),
            kernel: k,
            stride,
            relu6: true,
        };
        let ours = x.apply_op1_no_bwd(&op).unwrap();
        let theirs = reference(&x, &wt, stride)
            .broadcast_add(&b.reshape((1, c, 1, 1)).unwrap())
            .unwrap()
            .clamp(0f32, 6f32)
            .unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-4);
    }
}

#[test]
fn backward_matches_candle_grouped_conv() {
    let dev = Device::Cpu;
    for &(n, c, h, w) in SHAPES {
        for k in [3, 5] {
            for stride in [1, 2] {
                let x = Var::randn(0f32, 1f32, (n, c, h, w), &dev).unwrap();
                let wt = Var::randn(0f32, 1f32, (c, 1, k, k), &dev).unwrap();
                let ours = depthwise_conv2d(&x, &wt, stride).unwrap();
                // A loss with non-uniform upstream gradient.
                let g = Tensor::randn(0f32, 1f32, ours.dims(), &dev).unwrap();
                let grads = (ours * &g).unwrap().sum_all().unwrap().backward().unwrap();
                let theirs = reference(&x, &wt, stride);
                let grads2 = (theirs * &g).unwrap().sum_all().unwrap().backward().unwrap();
                for (name, v) in [("x", x.as_tensor()), ("w", wt.as_tensor())] {
                    let d = max_diff(grads.get(v).unwrap(), grads2.get(v).unwrap());
                    assert!(d < 1e-3, "grad {name}: n{n} c{c} {h}x{w} k{k} s{stride}: diff {d}");
                }
            }
        }
    }
}

fn nhwc(t: &Tensor) -> Tensor {
    t.permute((0, 2, 3, 1)).unwrap().contiguous().unwrap()
}

#[test]
fn channels_last_depthwise_matches_candle_for_all_channel_tails() {
    use photosift::model::kernels::channels_last::DepthwiseNhwc;
    let dev = Device::Cpu;
    // Channel counts hitting the 64-, 32-, 8- and 1-wide register blocks.
    for (n, c, h, w) in [(1, 5, 7, 9), (2, 37, 8, 8), (1, 100, 5, 6), (1, 144, 11, 4), (2, 1, 3, 3)]
    {
        for k in [3, 5] {
            for stride in [1, 2] {
                let x = Tensor::randn(0f32, 3f32, (n, c, h, w), &dev).unwrap();
                let wt = Tensor::randn(0f32, 1f32, (c, 1, k, k), &dev).unwrap();
                let b = Tensor::randn(0f32, 1f32, c, &dev).unwrap();
                for relu6 in [false, true] {
                    let op = DepthwiseNhwc {
                        weight: wt
                            .reshape((c, k * k))
                            .unwrap()
                            .t()
                            .unwrap()
                            .flatten_all()
                            .unwrap()
                            .to_vec1()
                            .unwrap(),
                        bias: b.to_vec1().unwrap(),
                        channels: c,
                        kernel: k,
                        stride,
                        relu6,
                    };
                    let ours = nhwc(&x).apply_op1_no_bwd(&op).unwrap();
                    let mut theirs = reference(&x, &wt, stride)
                        .broadcast_add(&b.reshape((1, c, 1, 1)).unwrap())
                        .unwrap();
                    if relu6 {
                        theirs = theirs.clamp(0f32, 6f32).unwrap();
                    }
                    let d = max_diff(&ours, &nhwc(&theirs));
                    assert!(d < 1e-4, "n{n} c{c} {h}x{w} k{k} s{stride} relu6 {relu6}: diff {d}");
                }
            }
        }
    }
}

#[test]
fn channels_last_stem_and_pointwise_match_candle() {
    use photosift::model::kernels::channels_last::{PointwiseNhwc, StemConv};
    let dev = Device::Cpu;
    for (h, w, cout) in [(9, 8, 32), (7, 7, 5), (16, 15, 40)] {
        let x = Tensor::randn(0f32, 1f32, (2, 3, h, w), &dev).unwrap();
        let wt = Tensor::randn(0f32, 1f32, (cout, 3, 3, 3), &dev).unwrap();
        let b = Tensor::randn(0f32, 1f32, cout, &dev).unwrap();
        let op = StemConv {
            weight: wt.permute((2, 3, 1, 0)).unwrap().flatten_all().unwrap().to_vec1().unwrap(),
            bias: b.to_vec1().unwrap(),
            cin: 3,
            cout,
            kernel: 3,
            stride: 2,
        };
        let ours = x.apply_op1_no_bwd(&op).unwrap();
        let (_, t, bt) = same_padding(h, 3, 2);
        let (_, l, r) = same_padding(w, 3, 2);
        let xp = x.pad_with_zeros(2, t, bt).unwrap().pad_with_zeros(3, l, r).unwrap();
        let theirs = xp
            .conv2d(&wt, 0, 2, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, cout, 1, 1)).unwrap())
            .unwrap()
            .clamp(0f32, 6f32)
            .unwrap();
        assert!(max_diff(&ours, &nhwc(&theirs)) < 1e-4);
    }
    // Pointwise: few rows (one threaded gemm) and many rows (row blocks), with residual.
    for (n, h, w, cin, cout) in [(1, 3, 3, 7, 5), (2, 40, 37, 16, 24), (1, 7, 7, 1152, 192)] {
        let x = Tensor::randn(0f32, 1f32, (n, cin, h, w), &dev).unwrap();
        let wt = Tensor::randn(0f32, 1f32, (cout, cin, 1, 1), &dev).unwrap();
        let b = Tensor::randn(0f32, 1f32, cout, &dev).unwrap();
        let res = Tensor::randn(0f32, 1f32, (n, cout, h, w), &dev).unwrap();
        let op = PointwiseNhwc {
            weight: wt.flatten_all().unwrap().to_vec1().unwrap(),
            bias: b.to_vec1().unwrap(),
            cin,
            cout,
            relu6: false,
        };
        let ours = nhwc(&x).apply_op2_no_bwd(&nhwc(&res), &op).unwrap();
        let theirs = ((x
            .conv2d(&wt, 0, 1, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, cout, 1, 1)).unwrap()))
        .unwrap()
            + &res)
            .unwrap();
        let d = max_diff(&ours, &nhwc(&theirs));
        assert!(d < 1e-3, "pointwise n{n} {h}x{w} {cin}->{cout}: diff {d}");
    }
}
