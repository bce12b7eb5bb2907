//! The one font photosift draws text with: Noto Mono Regular (SIL OFL 1.1), compiled in, for
//! the `eval` plot and the export contact sheets. Its license: assets/fonts/.

pub const NOTO_MONO: &[u8] = include_bytes!("../assets/fonts/NotoMono-Regular.ttf");
