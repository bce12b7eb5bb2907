//! photosift's decode → orient → thumbnail path, compiled from the main crate's own source
//! files for the fuzz targets (the rest of photosift is not needed to decode a photo).
#![allow(dead_code, unused_imports)]

#[path = "../../src/config.rs"]
pub mod config;
// config.rs checks `[export] print_size` with it.
#[path = "../../src/print_check.rs"]
pub mod print_check;

// At the crate root, so thumbnail.rs's `super::exif_meta` resolves as in photosift.
#[path = "../../src/ingest/exif_meta.rs"]
pub mod exif_meta;
#[path = "../../src/ingest/heif.rs"]
pub mod heif;
#[path = "../../src/ingest/raw_preview.rs"]
pub mod raw_preview;
#[path = "../../src/ingest/thumbnail.rs"]
pub mod thumbnail;

/// The one thing of the library folder the thumbnail code asks for: its root.
pub mod library {
    use std::path::{Path, PathBuf};

    #[derive(Debug, Clone)]
    pub struct Library {
        root: PathBuf,
    }

    impl Library {
        pub fn root(&self) -> &Path {
            &self.root
        }
    }
}
