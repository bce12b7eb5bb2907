//! The name a backbone version's embeddings are stored under.

use std::fmt;

use super::BACKBONE_ID;

/// The name embeddings are stored under in the catalog: the bundled backbone's photo features
/// ([`BackboneId::bundled`]), a fine-tuned version (`lite0-ft-<model id>`) or, in a library from
/// before the photo features, the old pooled embedding ([`BackboneId::OLD`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackboneId(String);

impl BackboneId {
    /// Where photosift before the photo features stored its 1280-d pooled embeddings.
    pub const OLD: &str = "lite0-imagenet";
    /// Embeddings of the bundled backbone that newer features replace: a model trained on them
    /// is not a reason to keep training on them once the new features exist.
    pub const SUPERSEDED: [&str; 2] = [Self::OLD, "lite0-mid-s224"];

    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The photo features of the bundled EfficientNet-Lite0.
    pub fn bundled() -> Self {
        Self(BACKBONE_ID.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BackboneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
