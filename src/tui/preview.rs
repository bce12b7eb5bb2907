//! The preview worker: decodes each photo at the pixel size it takes on screen (DCT-scaled
//! from the original when the thumbnail is too small, through the ingest decoder), resizes
//! and encodes it to the terminal's image protocol on worker threads, so the UI task only
//! places a ready [`Encoded`]. Requests are latest-wins: a new wanted list replaces whatever
//! was still waiting. The cache of encoded previews is bounded in bytes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use image::RgbImage;
use ratatui::layout::Size;

use super::encode::{Encoded, encode};
use super::graphics::Choice;
use crate::config::ScanConfig;
use crate::domain::PhotoId;
use crate::imaging::resize::resize_rgb;

/// Where the loupe looks: the point of the original at the view's centre, in thousandths of
/// its width and height (500, 500: the middle).
pub type Centre = (u16, u16);

/// One preview to make: a photo at a size in terminal cells, fitted, or the original at 100%
/// around a point (the loupe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRequest {
    pub photo: PhotoId,
    pub size: Size,
    /// At 100% around this point; `None`: fitted.
    pub loupe: Option<Centre>,
    pub thumb: Option<PathBuf>,
    pub original: PathBuf,
    /// The original's size as displayed (after EXIF orientation), where the catalog has it.
    pub dims: Option<(u32, u32)>,
    /// The photo fills the photo area (not a burst-strip thumbnail, not one of compare view's
    /// two): it owns the screen's images, and kitty's earlier placements go.
    pub main: bool,
}

/// A preview's identity in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PreviewKey {
    pub photo: PhotoId,
    pub size: (u16, u16),
    pub loupe: Option<Centre>,
}

impl PreviewKey {
    pub fn new(photo: PhotoId, size: Size, loupe: Option<Centre>) -> Self {
        Self { photo, size: (size.width, size.height), loupe }
    }
}

/// What the worker made.
pub enum PreviewMsg {
    Ready {
        photo: PhotoId,
        size: Size,
        loupe: Option<Centre>,
        encoded: Box<Encoded>,
    },
    /// Neither the thumbnail nor the original could be read; `gone`: neither file exists.
    Missing {
        photo: PhotoId,
        size: Size,
        loupe: Option<Centre>,
        reason: String,
        gone: bool,
    },
}

impl PreviewMsg {
    pub fn key(&self) -> PreviewKey {
        match self {
            PreviewMsg::Ready { photo, size, loupe, .. }
            | PreviewMsg::Missing { photo, size, loupe, .. } => {
                PreviewKey::new(*photo, *size, *loupe)
            }
        }
    }
}

/// A finished preview, as the draw path uses it.
pub enum Preview {
    Ready(Box<Encoded>),
    Missing(String),
}

struct Pending {
    queue: VecDeque<PreviewRequest>,
    in_flight: HashSet<PreviewKey>,
    shutdown: bool,
}

type Notify = Arc<dyn Fn(PreviewMsg) + Send + Sync>;

/// How the workers decode and encode.
#[derive(Clone)]
pub struct PreviewSettings {
    pub graphics: Choice,
    /// Decoding limits (and the thumbnail size) of `[scan]`, for the originals.
    pub scan: ScanConfig,
    /// The original the loupe looks at, decoded once.
    pub originals: Arc<OriginalCache>,
}

impl PreviewSettings {
    pub fn new(graphics: Choice, scan: ScanConfig) -> Self {
        Self { graphics, scan, originals: Arc::default() }
    }
}

/// The worker threads. Dropping it stops them once their current image is done.
pub struct PreviewWorker {
    shared: Arc<(Mutex<Pending>, Condvar)>,
}

fn key_of(r: &PreviewRequest) -> PreviewKey {
    PreviewKey::new(r.photo, r.size, r.loupe)
}

impl PreviewWorker {
    pub fn new(settings: PreviewSettings, threads: usize, notify: Notify) -> std::io::Result<Self> {
        let shared = Arc::new((
            Mutex::new(Pending {
                queue: VecDeque::new(),
                in_flight: HashSet::new(),
                shutdown: false,
            }),
            Condvar::new(),
        ));
        for i in 0..threads.max(1) {
            let shared = shared.clone();
            let settings = settings.clone();
            let notify = notify.clone();
            std::thread::Builder::new().name(format!("preview-{i}")).spawn(move || {
                crate::jobs::lower_thread_priority();
                worker_loop(&shared, &settings, &*notify)
            })?;
        }
        Ok(Self { shared })
    }

    /// Replaces the waiting requests with `wanted` (most urgent first).
    pub fn request(&self, wanted: Vec<PreviewRequest>) {
        let (lock, cvar) = &*self.shared;
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        p.queue = wanted.into_iter().filter(|r| !p.in_flight.contains(&key_of(r))).collect();
        cvar.notify_all();
    }
}

impl Drop for PreviewWorker {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).shutdown = true;
        cvar.notify_all();
    }
}

fn worker_loop(
    shared: &(Mutex<Pending>, Condvar),
    settings: &PreviewSettings,
    notify: &dyn Fn(PreviewMsg),
) {
    let (lock, cvar) = shared;
    loop {
        let req = {
            let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if p.shutdown {
                    return;
                }
                if let Some(req) = p.queue.pop_front() {
                    p.in_flight.insert(key_of(&req));
                    break req;
                }
                p = cvar.wait(p).unwrap_or_else(|e| e.into_inner());
            }
        };
        // A decoder that panics on a broken file must not take the worker down with it.
        let msg =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make_preview(settings, &req)))
                .unwrap_or_else(|payload| PreviewMsg::Missing {
                    photo: req.photo,
                    size: req.size,
                    loupe: req.loupe,
                    reason: format!("cannot decode: {}", crate::jobs::panic_message(&*payload)),
                    gone: false,
                });
        lock.lock().unwrap_or_else(|e| e.into_inner()).in_flight.remove(&key_of(&req));
        notify(msg);
    }
}

/// Decodes, resizes and encodes one preview.
pub fn make_preview(settings: &PreviewSettings, req: &PreviewRequest) -> PreviewMsg {
    let (photo, size, loupe) = (req.photo, req.size, req.loupe);
    let image = match preview_pixels(settings, req) {
        Ok(img) => img,
        Err(reason) => {
            let gone = !req.original.exists() && req.thumb.as_deref().is_none_or(|t| !t.exists());
            return PreviewMsg::Missing { photo, size, loupe, reason, gone };
        }
    };
    match encode(&settings.graphics, image, size, req.main) {
        Ok(encoded) => PreviewMsg::Ready { photo, size, loupe, encoded: Box::new(encoded) },
        Err(reason) => PreviewMsg::Missing { photo, size, loupe, reason, gone: false },
    }
}

/// The pixels the screen shows for `req`: the photo fitted into the area's pixel size (or,
/// in the loupe, the original at 100% around the loupe's centre, kept inside the photo),
/// upright.
pub fn preview_pixels(
    settings: &PreviewSettings,
    req: &PreviewRequest,
) -> Result<RgbImage, String> {
    let (bw, bh) = settings.graphics.area_px(req.size.width, req.size.height);
    if bw == 0 || bh == 0 {
        return Err("no room on screen".into());
    }
    if let Some(centre) = req.loupe {
        let full = settings
            .originals
            .get(&req.original, || decode_original(settings, &req.original, u32::MAX))?;
        return Ok(crop_around(&full, bw, bh, centre));
    }
    // The long side the photo takes in the box; the thumbnail serves when it is that big.
    let need = match req.dims {
        Some((w, h)) if w > 0 && h > 0 => fitted(w, h, bw, bh).0.max(fitted(w, h, bw, bh).1),
        _ => bw.max(bh),
    };
    let image = if need <= settings.scan.thumb_size {
        match req.thumb.as_deref().map(decode_file) {
            Some(Ok(img)) => img,
            _ => decode_original(settings, &req.original, need)?,
        }
    } else {
        match decode_original(settings, &req.original, need) {
            Ok(img) => img,
            // The original is gone or unreadable: the thumbnail, enlarged, still shows it.
            Err(reason) => match req.thumb.as_deref().map(decode_file) {
                Some(Ok(img)) => img,
                _ => return Err(reason),
            },
        }
    };
    let (w, h) = fitted(image.width(), image.height(), bw, bh);
    resize_rgb(image, w, h).map_err(|e| e.to_string())
}

/// Decodes the original with the scan's decoder (DCT scaling to `long` px on the long side,
/// EXIF orientation, the scan's pixel limits), so every format the scan reads shows here too.
fn decode_original(settings: &PreviewSettings, path: &Path, long: u32) -> Result<RgbImage, String> {
    let cfg = ScanConfig { thumb_size: long.max(1), ..settings.scan.clone() };
    crate::imaging::make_thumbnail(path, &cfg)
        .map(|t| t.image)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn decode_file(path: &Path) -> Result<RgbImage, String> {
    image::ImageReader::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .with_guessed_format()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .decode()
        .map(|i| i.into_rgb8())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The largest size with `w`:`h`'s aspect inside `bw`×`bh` (at least 1×1).
pub fn fitted(w: u32, h: u32, bw: u32, bh: u32) -> (u32, u32) {
    let (w, h) = (u64::from(w.max(1)), u64::from(h.max(1)));
    let (bw, bh) = (u64::from(bw), u64::from(bh));
    if w * bh >= h * bw {
        (bw.max(1) as u32, ((h * bw + w / 2) / w).clamp(1, bh.max(1)) as u32)
    } else {
        (((w * bh + h / 2) / h).clamp(1, bw.max(1)) as u32, bh.max(1) as u32)
    }
}

/// The `bw`×`bh` of `image` around `centre` (thousandths of its size), moved inside the image
/// at its edges (all of it along a side that is smaller).
fn crop_around(image: &RgbImage, bw: u32, bh: u32, centre: Centre) -> RgbImage {
    let (w, h) = (bw.min(image.width()), bh.min(image.height()));
    let at = |c: u16, size: u32, view: u32| -> u32 {
        let c = u64::from(c.min(1000)) * u64::from(size) / 1000;
        (c.saturating_sub(u64::from(view) / 2) as u32).min(size - view)
    };
    let (x, y) = (at(centre.0, image.width(), w), at(centre.1, image.height(), h));
    image::imageops::crop_imm(image, x, y, w, h).to_image()
}

/// The last two originals decoded at full size, kept while the loupe pans over them (two:
/// compare view pans both shots at once): a pan step crops and encodes, it does not decode
/// 12 megapixels again.
#[derive(Default)]
pub struct OriginalCache {
    /// Newest last.
    recent: Mutex<Vec<(PathBuf, Arc<RgbImage>)>>,
}

impl OriginalCache {
    const KEEP: usize = 2;

    fn get(
        &self,
        path: &Path,
        decode: impl FnOnce() -> Result<RgbImage, String>,
    ) -> Result<Arc<RgbImage>, String> {
        if let Ok(recent) = self.recent.lock()
            && let Some((_, image)) = recent.iter().find(|(p, _)| p == path)
        {
            return Ok(image.clone());
        }
        let image = Arc::new(decode()?);
        if let Ok(mut recent) = self.recent.lock() {
            recent.retain(|(p, _)| p != path);
            if recent.len() >= Self::KEEP {
                recent.remove(0);
            }
            recent.push((path.to_path_buf(), image.clone()));
        }
        Ok(image)
    }
}

/// The previews on hand, by photo, size and zoom, within a memory budget; and the protocol
/// they are encoded in, for the side panel.
pub struct PreviewCache {
    map: HashMap<PreviewKey, Entry>,
    bytes: usize,
    budget: usize,
    next_seq: u64,
    graphics: String,
    /// Inside tmux, this pane's top-left cell in the outer terminal (the app keeps it current
    /// as panes move); images passing through tmux are placed from it.
    tmux_origin: Option<(u16, u16)>,
}

struct Entry {
    preview: Preview,
    bytes: usize,
    seq: u64,
}

impl Default for PreviewCache {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET, "half-blocks")
    }
}

/// Previews kept beyond the wanted ones, for going back and forth.
const KEEP_EXTRA: usize = 24;
/// Encoded previews kept in memory at most (the wanted ones always stay): a kitty photo at
/// 1600×1000 px is 6.4 MB of base64, a sixel one 1-3 MB, a half-block one 0.3 MB.
pub const DEFAULT_BUDGET: usize = 96 << 20;

impl PreviewCache {
    pub fn with_budget(budget: usize, graphics: impl Into<String>) -> Self {
        Self {
            map: HashMap::new(),
            bytes: 0,
            budget,
            next_seq: 0,
            graphics: graphics.into(),
            tmux_origin: None,
        }
    }

    pub fn tmux_origin(&self) -> Option<(u16, u16)> {
        self.tmux_origin
    }

    pub fn set_tmux_origin(&mut self, origin: Option<(u16, u16)>) {
        self.tmux_origin = origin;
    }

    /// The protocol previews are drawn with, e.g. `sixel · 10×20 px cells`.
    pub fn graphics(&self) -> &str {
        &self.graphics
    }

    pub fn get(&self, photo: PhotoId, size: Size) -> Option<&Preview> {
        self.get_view(photo, size, None)
    }

    /// The preview at `size`, in the loupe at `loupe`'s centre, else fitted.
    pub fn get_view(&self, photo: PhotoId, size: Size, loupe: Option<Centre>) -> Option<&Preview> {
        self.map.get(&PreviewKey::new(photo, size, loupe)).map(|e| &e.preview)
    }

    pub fn contains(&self, photo: PhotoId, size: Size) -> bool {
        self.contains_key(&PreviewKey::new(photo, size, None))
    }

    pub fn contains_key(&self, key: &PreviewKey) -> bool {
        self.map.contains_key(key)
    }

    pub fn insert(&mut self, msg: PreviewMsg) {
        let key = msg.key();
        let preview = match msg {
            PreviewMsg::Ready { encoded, .. } => Preview::Ready(encoded),
            PreviewMsg::Missing { reason, .. } => Preview::Missing(reason),
        };
        let bytes = match &preview {
            Preview::Ready(e) => e.bytes(),
            Preview::Missing(r) => r.len() + 64,
        };
        self.next_seq += 1;
        if let Some(old) = self.map.insert(key, Entry { preview, bytes, seq: self.next_seq }) {
            self.bytes -= old.bytes;
        }
        self.bytes += bytes;
    }

    /// Drops previews at sizes no longer wanted, then the oldest extras beyond
    /// [`KEEP_EXTRA`] or the byte budget.
    pub fn prune(&mut self, wanted: &[PreviewKey]) {
        let sizes: HashSet<(u16, u16)> = wanted.iter().map(|k| k.size).collect();
        let keep: HashSet<PreviewKey> = wanted.iter().copied().collect();
        let mut gone: Vec<PreviewKey> =
            self.map.keys().filter(|k| !sizes.contains(&k.size)).copied().collect();
        let mut extra: Vec<(u64, PreviewKey)> = self
            .map
            .iter()
            .filter(|(k, _)| sizes.contains(&k.size) && !keep.contains(k))
            .map(|(k, e)| (e.seq, *k))
            .collect();
        extra.sort_by_key(|(seq, _)| *seq);
        let mut count = self.map.len() - gone.len();
        let mut bytes = self.bytes - gone.iter().map(|k| self.map[k].bytes).sum::<usize>();
        for (_, k) in extra {
            if count <= keep.len() + KEEP_EXTRA && bytes <= self.budget {
                break;
            }
            count -= 1;
            bytes -= self.map[&k].bytes;
            gone.push(k);
        }
        for k in gone {
            if let Some(e) = self.map.remove(&k) {
                self.bytes -= e.bytes;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes held by the encoded previews.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape(bytes: usize) -> Box<Encoded> {
        Box::new(Encoded::Escape {
            data: "x".repeat(bytes),
            size: Size::new(10, 5),
            above_text: false,
            tmux: false,
        })
    }

    fn ready(id: i64, bytes: usize) -> PreviewMsg {
        PreviewMsg::Ready {
            photo: PhotoId(id),
            size: Size::new(10, 5),
            loupe: None,
            encoded: escape(bytes),
        }
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget_but_keeps_what_is_wanted() {
        let mut cache = PreviewCache::with_budget(10_000, "sixel");
        for id in 0..20 {
            cache.insert(ready(id, 1_000));
        }
        let wanted: Vec<PreviewKey> =
            (15..20).map(|id| PreviewKey::new(PhotoId(id), Size::new(10, 5), None)).collect();
        cache.prune(&wanted);
        assert!(cache.bytes() <= 10_000 + 20 * 64, "{}", cache.bytes());
        assert!(wanted.iter().all(|k| cache.contains_key(k)));
        // The newest extras stay, the oldest went first.
        assert!(cache.contains(PhotoId(14), Size::new(10, 5)));
        assert!(!cache.contains(PhotoId(0), Size::new(10, 5)));
        // Wanted previews stay even over the budget.
        let mut small = PreviewCache::with_budget(100, "kitty");
        small.insert(ready(1, 5_000));
        small.prune(&[PreviewKey::new(PhotoId(1), Size::new(10, 5), None)]);
        assert_eq!(small.len(), 1);
        small.prune(&[PreviewKey::new(PhotoId(2), Size::new(10, 5), None)]);
        assert_eq!((small.len(), small.bytes()), (0, 0));
    }

    /// The loupe's window around its centre stays inside the photo at the edges.
    #[test]
    fn the_loupe_crops_around_its_centre_inside_the_photo() {
        let image =
            RgbImage::from_fn(1000, 500, |x, y| image::Rgb([(x / 4) as u8, (y / 2) as u8, 0]));
        let at = |c: Centre| {
            let crop = crop_around(&image, 200, 100, c);
            (crop.dimensions(), crop.get_pixel(0, 0).0[0], crop.get_pixel(0, 0).0[1])
        };
        assert_eq!(at((500, 500)), ((200, 100), 100, 100), "the middle: x 400, y 200");
        assert_eq!(at((0, 0)), ((200, 100), 0, 0), "the top left corner");
        assert_eq!(at((1000, 1000)), ((200, 100), 200, 200), "kept inside at x 800, y 400");
        assert_eq!(at((250, 500)).1, 37, "a quarter in: x 150");
        // A photo smaller than the view is all there is.
        assert_eq!(crop_around(&image, 4000, 50, (500, 500)).dimensions(), (1000, 50));
    }

    #[test]
    fn fitting_keeps_the_aspect() {
        assert_eq!(fitted(4032, 3024, 1600, 1000), (1333, 1000));
        assert_eq!(fitted(3024, 4032, 1600, 1000), (750, 1000));
        assert_eq!(fitted(2000, 500, 1000, 920), (1000, 250));
    }

    fn settings(cell: (u16, u16)) -> PreviewSettings {
        let graphics = Choice::fixed(super::super::graphics::Protocol::Sixel, cell);
        PreviewSettings::new(graphics, crate::config::Config::default().scan)
    }

    #[test]
    fn previews_come_from_the_original_at_the_screens_pixel_size() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("big.jpg");
        let img =
            RgbImage::from_fn(2400, 1600, |x, y| image::Rgb([(x / 10) as u8, (y / 10) as u8, 9]));
        img.save(&original).unwrap();
        let thumb = dir.path().join("thumb.jpg");
        image::imageops::thumbnail(&img, 512, 341).save(&thumb).unwrap();
        let s = settings((10, 20));
        let req = PreviewRequest {
            photo: PhotoId(1),
            size: Size::new(160, 50),
            loupe: None,
            thumb: Some(thumb.clone()),
            original: original.clone(),
            dims: Some((2400, 1600)),
            main: true,
        };
        assert_eq!(preview_pixels(&s, &req).unwrap().dimensions(), (1500, 1000));
        // A small area: the thumbnail is enough.
        let small = PreviewRequest { size: Size::new(30, 10), ..req.clone() };
        assert_eq!(preview_pixels(&s, &small).unwrap().dimensions(), (300, 200));
        // Zoom: the centre at 100%.
        let zoom = PreviewRequest { loupe: Some((500, 500)), ..req.clone() };
        let z = preview_pixels(&s, &zoom).unwrap();
        assert_eq!(z.dimensions(), (1600, 1000));
        let centre = z.get_pixel(800, 500);
        assert!((i32::from(centre[0]) - 120).abs() <= 3, "{centre:?}");
        // The original gone: the thumbnail (512×341), enlarged.
        std::fs::remove_file(&original).unwrap();
        assert_eq!(preview_pixels(&s, &req).unwrap().dimensions(), (1501, 1000));
        let gone = PreviewRequest { thumb: None, ..req };
        assert!(matches!(make_preview(&s, &gone), PreviewMsg::Missing { gone: true, .. }));
    }
}
