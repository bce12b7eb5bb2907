//! CLIP's byte-level BPE tokenizer (Radford et al. 2021) as Stable Diffusion uses it: read from a
//! `tokenizer.json`, or built from the `vocab.json` + `merges.txt` that SD repositories ship in
//! `tokenizer/`, with the padding token made special as transformers' `CLIPTokenizer` does
//! (SD 2.x pads with "!", so a "!" in a prompt is that token, not part of a word).

use std::path::Path;

use serde_json::{Value, json};
use tokenizers::{AddedToken, Tokenizer};

use super::SynthError;

/// CLIP's pre-tokenizer split: special tokens, English contractions, letter runs, single digits,
/// other non-space runs.
const CLIP_SPLIT: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

const BOS: &str = "<|startoftext|>";
const EOS: &str = "<|endoftext|>";

/// Loads `tokenizer.json`.
pub fn from_tokenizer_json(path: &Path) -> Result<Tokenizer, SynthError> {
    Tokenizer::from_file(path)
        .map_err(|e| SynthError::Tokenizer(format!("{}: {e}", path.display())))
}

/// Builds CLIP's tokenizer from `vocab.json` (token -> id) and `merges.txt` (one merge per
/// line, after a `#version` header), the way transformers converts them.
pub fn from_vocab_and_merges(vocab: &Path, merges: &Path) -> Result<Tokenizer, SynthError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map_err(|e| SynthError::Tokenizer(format!("cannot read {}: {e}", p.display())))
    };
    let vocab_map: Value = serde_json::from_str(&read(vocab)?)
        .map_err(|e| SynthError::Tokenizer(format!("{}: {e}", vocab.display())))?;
    let id = |tok: &str| {
        vocab_map.get(tok).and_then(Value::as_u64).ok_or_else(|| {
            SynthError::Tokenizer(format!("{} has no {tok:?} token", vocab.display()))
        })
    };
    let (bos, eos) = (id(BOS)?, id(EOS)?);
    let merges: Vec<Value> = read(merges)?
        .lines()
        .filter(|l| !l.starts_with("#version") && !l.trim().is_empty())
        .map(|l| match l.split_once(' ') {
            Some((a, b)) => Ok(json!([a, b])),
            None => Err(SynthError::Tokenizer(format!("bad merge {l:?} in {}", merges.display()))),
        })
        .collect::<Result<_, _>>()?;
    let special = |content: &str, id: u64| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let spec = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(BOS, bos), special(EOS, eos)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
            {"type": "Lowercase"},
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": CLIP_SPLIT}, "behavior": "Removed",
             "invert": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
             "use_regex": true},
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": [EOS, eos], "cls": [BOS, bos],
                           "trim_offsets": false, "add_prefix_space": false},
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                    "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": EOS,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "</w>",
                  "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab_map, "merges": merges},
    });
    Tokenizer::from_bytes(spec.to_string().as_bytes())
        .map_err(|e| SynthError::Tokenizer(format!("{}: {e}", vocab.display())))
}

/// Makes `pad` a special token (it must be in the vocabulary) and returns its id.
pub fn register_pad(tokenizer: &mut Tokenizer, pad: &str) -> Result<u32, SynthError> {
    let id = tokenizer.token_to_id(pad).ok_or_else(|| {
        SynthError::Tokenizer(format!("the tokenizer has no padding token {pad:?}"))
    })?;
    tokenizer
        .add_special_tokens([AddedToken::from(pad.to_string(), true)])
        .map_err(|e| SynthError::Tokenizer(format!("padding token {pad:?}: {e}")))?;
    Ok(id)
}

/// The padding token a transformers tokenizer folder names (`special_tokens_map.json`, else
/// `tokenizer_config.json`): a plain string or `{"content": ...}`.
pub fn pad_token_in(folder: &Path) -> Option<String> {
    ["special_tokens_map.json", "tokenizer_config.json"].iter().find_map(|name| {
        let text = std::fs::read_to_string(folder.join(name)).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        match v.get("pad_token")? {
            Value::String(s) => Some(s.clone()),
            other => other.get("content")?.as_str().map(str::to_string),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_bpe(dir: &Path) {
        // A byte alphabet of the few letters used, their end-of-word forms, merges, specials.
        let mut vocab: Vec<String> = "!acdgot".chars().map(|c| c.to_string()).collect();
        vocab.extend("!acdgot".chars().map(|c| format!("{c}</w>")));
        vocab.extend(["do", "dog</w>", "ca", "cat</w>"].map(String::from));
        vocab.extend([BOS, EOS].map(String::from));
        let map: serde_json::Map<String, Value> =
            vocab.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
        std::fs::write(dir.join("vocab.json"), Value::Object(map).to_string()).unwrap();
        std::fs::write(dir.join("merges.txt"), "#version: 0.2\nd o\ndo g</w>\nc a\nca t</w>\n")
            .unwrap();
        std::fs::write(dir.join("special_tokens_map.json"), r#"{"pad_token": "!"}"#).unwrap();
    }

    #[test]
    fn vocab_and_merges_build_clip_bpe_with_special_padding() {
        let dir = tempfile::tempdir().unwrap();
        write_bpe(dir.path());
        let mut tok =
            from_vocab_and_merges(&dir.path().join("vocab.json"), &dir.path().join("merges.txt"))
                .unwrap();
        let pad = pad_token_in(dir.path()).unwrap();
        assert_eq!(pad, "!");
        let pad_id = register_pad(&mut tok, &pad).unwrap();
        let id = |t: &str| tok.token_to_id(t).unwrap();
        let ids = tok.encode("DOG  cat!!", true).unwrap().get_ids().to_vec();
        // Lowercased, whitespace folded, words end in </w>, "!" is the special pad token.
        assert_eq!(ids, vec![id(BOS), id("dog</w>"), id("cat</w>"), pad_id, pad_id, id(EOS)]);
        assert_eq!(pad_id, 0);
    }
}
