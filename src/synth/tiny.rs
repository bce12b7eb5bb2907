//! Test-sized Stable Diffusion: a word-level tokenizer built in code and the [`SdArch::tiny`]
//! networks with random weights. Everything runs in well under a second, needs no download,
//! and produces noise-like pictures: it exercises the plumbing, not image quality.

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::VarBuilder;
use candle_nn::var_builder::SimpleBackend;
use tokenizers::Tokenizer;

use super::SynthError;
use super::models::{DecoderKind, SdArch};
use super::pipeline::Pipeline;

/// The tokenizer's words besides the special tokens; other words map to `<unk>`.
pub const TINY_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "on",
    "in",
    "with",
    "and",
    "two",
    "friends",
    "mountain",
    "hummingbird",
    "flower",
    "portrait",
    "dog",
    "cat",
    "beach",
    "sunset",
    "blurry",
    "dark",
    "photo",
    "screenshot",
    "receipt",
    "document",
    "family",
    "child",
    "tree",
    "city",
    "night",
];

/// A CLIP-like tokenizer: lowercases, splits on whitespace and punctuation, wraps the ids in
/// `<|startoftext|>` … `<|endoftext|>`; `!` exists for SD 2.x-style padding.
pub fn tiny_tokenizer() -> Result<Tokenizer, SynthError> {
    let specials = ["<|startoftext|>", "<|endoftext|>", "<unk>", "!"];
    let vocab: Vec<String> = specials
        .iter()
        .chain(TINY_WORDS)
        .enumerate()
        .map(|(i, w)| format!("\"{w}\":{i}"))
        .collect();
    let special = |tok: &str, id: usize| {
        format!("\"{tok}\":{{\"id\":\"{tok}\",\"ids\":[{id}],\"tokens\":[\"{tok}\"]}}")
    };
    let json = format!(
        r#"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":{{"type":"Lowercase"}},
        "pre_tokenizer":{{"type":"Whitespace"}},
        "post_processor":{{"type":"TemplateProcessing",
          "single":[{{"SpecialToken":{{"id":"<|startoftext|>","type_id":0}}}},
                    {{"Sequence":{{"id":"A","type_id":0}}}},
                    {{"SpecialToken":{{"id":"<|endoftext|>","type_id":0}}}}],
          "pair":[{{"Sequence":{{"id":"A","type_id":0}}}},{{"Sequence":{{"id":"B","type_id":1}}}}],
          "special_tokens":{{{},{}}}}},
        "decoder":null,
        "model":{{"type":"WordLevel","vocab":{{{}}},"unk_token":"<unk>"}}}}"#,
        special("<|startoftext|>", 0),
        special("<|endoftext|>", 1),
        vocab.join(","),
    );
    Tokenizer::from_bytes(json.as_bytes()).map_err(|e| SynthError::Tokenizer(e.to_string()))
}

/// The vocabulary size of [`tiny_tokenizer`].
pub fn tiny_vocab_size() -> usize {
    TINY_WORDS.len() + 4
}

/// Weights made up on request with each layer's default initialisation (Kaiming for convs and
/// linears, ones/zeros for norms), as plain tensors. Unlike a `VarMap`'s trainable variables
/// they record no autograd graph, so a forward pass frees its activations as it goes (with
/// variables, a 512 px UNet step keeps every activation alive: tens of GB).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomWeights;

impl SimpleBackend for RandomWeights {
    fn get(
        &self,
        s: Shape,
        _name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        Ok(h.var(s, dtype, dev)?.as_detached_tensor())
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        Err(candle_core::Error::CannotFindTensor { path: name.to_string() })
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        false
    }
}

/// A [`VarBuilder`] over [`RandomWeights`].
pub fn random_weights(dtype: DType, dev: &Device) -> VarBuilder<'static> {
    VarBuilder::from_backend(Box::new(RandomWeights), dtype, dev.clone())
}

/// A [`Pipeline`] of [`SdArch::tiny`] networks with random weights.
pub fn tiny_pipeline(decoder: DecoderKind) -> Result<Pipeline, SynthError> {
    let vb = random_weights(DType::F32, &Device::Cpu);
    Pipeline::new(
        SdArch::tiny(tiny_vocab_size()),
        tiny_tokenizer()?,
        vb.clone(),
        vb.clone(),
        decoder,
        vb,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_tokenizer_wraps_known_and_unknown_words() {
        let tok = tiny_tokenizer().unwrap();
        let ids = tok.encode("Two friends on a volcano", true).unwrap().get_ids().to_vec();
        let id = |w: &str| tok.token_to_id(w).unwrap();
        assert_eq!(
            ids,
            vec![0, id("two"), id("friends"), id("on"), id("a"), id("<unk>"), 1],
            "{ids:?}"
        );
        assert_eq!(tok.get_vocab_size(true), tiny_vocab_size());
    }
}
