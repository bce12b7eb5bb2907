//! The EfficientNet-Lite0 weights: bundled in the binary (ImageNet, Apache-2.0, see
//! assets/README.md) or read from a safetensors file named in the config.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::ModelError;
use super::efficientnet_lite::{Config, EfficientNetLite};

pub use crate::assets::LITE0_WEIGHTS as BUNDLED_LITE0;

/// Where the weights come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsSource {
    /// Compiled into photosift: works offline, needs no file.
    Bundled,
    /// A safetensors file with the same tensor names.
    File(PathBuf),
}

impl WeightsSource {
    /// The config's `model.weights`: empty means the bundled weights.
    pub fn from_config(path: &Path) -> Self {
        if path.as_os_str().is_empty() { Self::Bundled } else { Self::File(path.to_path_buf()) }
    }

    fn name(&self) -> PathBuf {
        match self {
            Self::Bundled => PathBuf::from("<bundled>/efficientnet-lite0.safetensors"),
            Self::File(p) => p.clone(),
        }
    }

    fn bytes(&self) -> Result<std::borrow::Cow<'static, [u8]>, ModelError> {
        match self {
            Self::Bundled => Ok(std::borrow::Cow::Borrowed(BUNDLED_LITE0)),
            Self::File(p) => std::fs::read(p)
                .map(std::borrow::Cow::Owned)
                .map_err(|source| ModelError::ReadWeights { path: p.clone(), source }),
        }
    }

    fn corrupt(&self, source: candle_core::Error) -> ModelError {
        ModelError::BadWeights { path: self.name(), source }
    }

    /// Every tensor of the file, by name.
    pub fn tensors(&self, device: &Device) -> Result<HashMap<String, Tensor>, ModelError> {
        let bytes = self.bytes()?;
        candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| self.corrupt(e))
    }

    /// EfficientNet-Lite0 folded for inference.
    pub fn load_folded(&self, device: &Device) -> Result<EfficientNetLite, ModelError> {
        let bytes = self.bytes()?;
        let vb = VarBuilder::from_slice_safetensors(&bytes, DType::F32, device)
            .map_err(|e| self.corrupt(e))?;
        EfficientNetLite::new_folded(&Config::lite0(), vb).map_err(|e| self.corrupt(e))
    }

    /// EfficientNet-Lite0 as stored, every parameter a variable of the returned [`VarMap`]
    /// (for fine-tuning with candle autograd; BatchNorm running statistics are variables too,
    /// but receive no gradient).
    pub fn load_trainable(
        &self,
        device: &Device,
    ) -> Result<(EfficientNetLite, VarMap), ModelError> {
        let tensors = self.tensors(device)?;
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let model = EfficientNetLite::new(&Config::lite0(), vb).map_err(|e| self.corrupt(e))?;
        let names: Vec<String> =
            varmap.data().lock().map(|d| d.keys().cloned().collect()).unwrap_or_default();
        for name in names {
            let t = tensors.get(&name).ok_or_else(|| {
                self.corrupt(candle_core::Error::Msg(format!("no tensor named {name}")))
            })?;
            varmap.set_one(&name, t).map_err(|e| self.corrupt(e))?;
        }
        Ok((model, varmap))
    }
}
