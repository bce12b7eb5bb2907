//! CLIP's byte-level BPE tokenizer (Radford et al. 2021) as Stable Diffusion uses it: read from a
//! `tokenizer.json`, or built from the `vocab.json` + `merges.txt` that SD repositories ship in
//! `tokenizer/`, with the padding token made special as transformers' `CLIPTokenizer` does
//! (SD 2.x pads with "!", so a "!" in a prompt is that token, not part of a word); and
//! [`ClipTokenizer`], the prompt-to-ids step of CLIP's text embedding (transformers'
//! truncation to 77 tokens, no padding).

use std::path::Path;

use serde_json::{Value, json};
use thiserror::Error;
use tokenizers::{AddedToken, Tokenizer};

/// A tokenizer that cannot be read or built, or a prompt it cannot encode.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct TokenizerError(pub String);

/// CLIP's pre-tokenizer split: special tokens, English contractions, letter runs, single digits,
/// other non-space runs.
const CLIP_SPLIT: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

const BOS: &str = "<|startoftext|>";
const EOS: &str = "<|endoftext|>";

/// Loads `tokenizer.json`.
pub fn from_tokenizer_json(path: &Path) -> Result<Tokenizer, TokenizerError> {
    Tokenizer::from_file(path).map_err(|e| TokenizerError(format!("{}: {e}", path.display())))
}

/// Builds CLIP's tokenizer from `vocab.json` (token -> id) and `merges.txt` (one merge per
/// line, after a `#version` header), the way transformers converts them.
pub fn from_vocab_and_merges(vocab: &Path, merges: &Path) -> Result<Tokenizer, TokenizerError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map_err(|e| TokenizerError(format!("cannot read {}: {e}", p.display())))
    };
    let vocab_map: Value = serde_json::from_str(&read(vocab)?)
        .map_err(|e| TokenizerError(format!("{}: {e}", vocab.display())))?;
    let id = |tok: &str| {
        vocab_map
            .get(tok)
            .and_then(Value::as_u64)
            .ok_or_else(|| TokenizerError(format!("{} has no {tok:?} token", vocab.display())))
    };
    let (bos, eos) = (id(BOS)?, id(EOS)?);
    let merges: Vec<Value> = read(merges)?
        .lines()
        .filter(|l| !l.starts_with("#version") && !l.trim().is_empty())
        .map(|l| match l.split_once(' ') {
            Some((a, b)) => Ok(json!([a, b])),
            None => Err(TokenizerError(format!("bad merge {l:?} in {}", merges.display()))),
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
        .map_err(|e| TokenizerError(format!("{}: {e}", vocab.display())))
}

/// Makes `pad` a special token (it must be in the vocabulary) and returns its id.
pub fn register_pad(tokenizer: &mut Tokenizer, pad: &str) -> Result<u32, TokenizerError> {
    let id = tokenizer
        .token_to_id(pad)
        .ok_or_else(|| TokenizerError(format!("the tokenizer has no padding token {pad:?}")))?;
    tokenizer
        .add_special_tokens([AddedToken::from(pad.to_string(), true)])
        .map_err(|e| TokenizerError(format!("padding token {pad:?}: {e}")))?;
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

/// CLIP's tokenizer as the text embedding uses it: `<|startoftext|>`, the prompt's tokens,
/// `<|endoftext|>`, cut to the text tower's positions the way transformers truncates (the
/// first `max_len - 2` tokens of the prompt kept, the end token last). Not padded: with the
/// causal mask, padding cannot change the state at the end token, which is what is pooled.
#[derive(Debug, Clone)]
pub struct ClipTokenizer {
    tokenizer: Tokenizer,
    eos: u32,
    max_len: usize,
}

impl ClipTokenizer {
    pub fn new(tokenizer: Tokenizer, max_len: usize) -> Result<Self, TokenizerError> {
        let eos = tokenizer
            .token_to_id(EOS)
            .ok_or_else(|| TokenizerError(format!("the tokenizer has no {EOS} token")))?;
        if max_len < 2 {
            return Err(TokenizerError(format!("{max_len} positions cannot hold a prompt")));
        }
        Ok(Self { tokenizer, eos, max_len })
    }

    /// `tokenizer.json` in `folder`, else `vocab.json` + `merges.txt` (as
    /// `huggingface-cli download` writes a CLIP repository).
    pub fn from_folder(folder: &Path, max_len: usize) -> Result<Self, TokenizerError> {
        let json = folder.join("tokenizer.json");
        let tok = if json.is_file() {
            from_tokenizer_json(&json)?
        } else {
            from_vocab_and_merges(&folder.join("vocab.json"), &folder.join("merges.txt"))?
        };
        Self::new(tok, max_len)
    }

    /// The end token's id: where the text embedding is pooled.
    pub fn eos(&self) -> u32 {
        self.eos
    }

    /// The prompt's ids, ending in the end token, at most `max_len` of them.
    pub fn encode(&self, prompt: &str) -> Result<Vec<u32>, TokenizerError> {
        let enc = self
            .tokenizer
            .encode(prompt, true)
            .map_err(|e| TokenizerError(format!("cannot tokenize {prompt:?}: {e}")))?;
        let mut ids = enc.get_ids().to_vec();
        if ids.len() > self.max_len {
            ids.truncate(self.max_len);
            ids[self.max_len - 1] = self.eos;
        }
        Ok(ids)
    }
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

    #[test]
    fn long_prompts_are_cut_to_the_positions_ending_in_the_end_token() {
        let dir = tempfile::tempdir().unwrap();
        write_bpe(dir.path());
        let tok = ClipTokenizer::from_folder(dir.path(), 5).unwrap();
        let id = |t: &str| tok.tokenizer.token_to_id(t).unwrap();
        assert_eq!(tok.encode("dog").unwrap(), vec![id(BOS), id("dog</w>"), id(EOS)]);
        let ids = tok.encode("dog cat dog cat dog").unwrap();
        assert_eq!(ids, vec![id(BOS), id("dog</w>"), id("cat</w>"), id("dog</w>"), id(EOS)]);
    }
}
