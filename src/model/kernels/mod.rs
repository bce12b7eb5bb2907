//! The CPU kernels of the image backbones (EfficientNet-Lite's convolutions, CLIP's layers), one
//! file per role:
//! - [`planar_depthwise`]: depthwise convolution on NCHW tensors with a backward pass, as
//!   candle custom ops: the trainable network's (fine-tuning's) depthwise layers;
//! - [`channels_last`]: the folded network's stem, depthwise and 1×1 convolutions on NHWC
//!   tensors, as candle custom ops: the layer-by-layer inference path (fine-tuning's frozen
//!   trunk);
//! - `depthwise_rows`: one output row of a depthwise convolution on channels-last rows, and
//! - `pointwise`: 1×1 convolution with weights packed at load: the two kernels of the streamed
//!   per-image path (`fused`) that embedding runs; CLIP's linear layers run it too;
//! - `vmath`: elementwise math that vectorizes (exp, softmax, layer norm, QuickGELU).

pub mod channels_last;
pub(super) mod depthwise_rows;
pub mod planar_depthwise;
pub(super) mod pointwise;
pub(super) mod vmath;
