//! The preview worker: decodes thumbnails, resizes them and encodes them to the terminal's
//! image protocol on worker threads, so the UI task only places a ready `Protocol`. Requests
//! are latest-wins: a new wanted list replaces whatever was still waiting.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use image::DynamicImage;
use ratatui::layout::Size;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::Protocol;
use ratatui_image::{FilterType, FontSize, Resize};

use crate::catalog::PhotoId;

/// One preview to make: a photo at a size in terminal cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRequest {
    pub photo: PhotoId,
    pub size: Size,
    pub thumb: Option<PathBuf>,
    pub original: PathBuf,
}

/// What the worker made.
pub enum PreviewMsg {
    Ready {
        photo: PhotoId,
        size: Size,
        protocol: Box<Protocol>,
    },
    /// Neither the thumbnail nor the original could be read; `gone`: neither file exists.
    Missing {
        photo: PhotoId,
        size: Size,
        reason: String,
        gone: bool,
    },
}

/// A finished preview, as the draw path uses it.
pub enum Preview {
    Ready(Box<Protocol>),
    Missing(String),
}

struct Pending {
    queue: VecDeque<PreviewRequest>,
    in_flight: HashSet<(PhotoId, (u16, u16))>,
    shutdown: bool,
}

type Notify = Arc<dyn Fn(PreviewMsg) + Send + Sync>;

/// The worker threads. Dropping it stops them once their current image is done.
pub struct PreviewWorker {
    shared: Arc<(Mutex<Pending>, Condvar)>,
}

fn key(size: Size) -> (u16, u16) {
    (size.width, size.height)
}

impl PreviewWorker {
    pub fn new(picker: Picker, threads: usize, notify: Notify) -> std::io::Result<Self> {
        let shared = Arc::new((
            Mutex::new(Pending {
                queue: VecDeque::new(),
                in_flight: HashSet::new(),
                shutdown: false,
            }),
            Condvar::new(),
        ));
        let picker = encoding_picker(picker);
        for i in 0..threads.max(1) {
            let shared = shared.clone();
            let picker = picker.clone();
            let notify = notify.clone();
            std::thread::Builder::new().name(format!("preview-{i}")).spawn(move || {
                crate::jobs::lower_thread_priority();
                worker_loop(&shared, &picker, &*notify)
            })?;
        }
        Ok(Self { shared })
    }

    /// Replaces the waiting requests with `wanted` (most urgent first).
    pub fn request(&self, wanted: Vec<PreviewRequest>) {
        let (lock, cvar) = &*self.shared;
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        p.queue =
            wanted.into_iter().filter(|r| !p.in_flight.contains(&(r.photo, key(r.size)))).collect();
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

fn worker_loop(shared: &(Mutex<Pending>, Condvar), picker: &Picker, notify: &dyn Fn(PreviewMsg)) {
    let (lock, cvar) = shared;
    loop {
        let req = {
            let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if p.shutdown {
                    return;
                }
                if let Some(req) = p.queue.pop_front() {
                    p.in_flight.insert((req.photo, key(req.size)));
                    break req;
                }
                p = cvar.wait(p).unwrap_or_else(|e| e.into_inner());
            }
        };
        // A decoder that panics on a broken file must not take the worker down with it.
        let msg =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make_preview(picker, &req)))
                .unwrap_or_else(|payload| PreviewMsg::Missing {
                    photo: req.photo,
                    size: req.size,
                    reason: format!("cannot decode: {}", crate::jobs::panic_message(&*payload)),
                    gone: false,
                });
        lock.lock()
            .unwrap_or_else(|e| e.into_inner())
            .in_flight
            .remove(&(req.photo, key(req.size)));
        notify(msg);
    }
}

/// The picker the workers encode with. Half-blocks sample one colour per half cell, so
/// working at a 1×2-pixel "font" resizes the thumbnail straight to the cells' resolution
/// instead of up to screen pixels and back down (about ten times less work per photo).
pub fn encoding_picker(picker: Picker) -> Picker {
    if picker.protocol_type() != ProtocolType::Halfblocks {
        return picker;
    }
    #[allow(deprecated)] // the way to state a font size; halfblocks have no real one
    let mut p = Picker::from_fontsize(FontSize::new(1, 2));
    p.set_protocol_type(ProtocolType::Halfblocks);
    p
}

/// Decodes, resizes and encodes one preview. The thumbnail first; when it is gone, the
/// original (slower, but the photo is still shown).
pub fn make_preview(picker: &Picker, req: &PreviewRequest) -> PreviewMsg {
    let (photo, size) = (req.photo, req.size);
    let image = match req.thumb.as_deref().map(decode) {
        Some(Ok(img)) => Ok(img),
        _ => decode(&req.original),
    };
    let image = match image {
        Ok(img) => img,
        Err(reason) => {
            let gone = !req.original.exists() && req.thumb.as_deref().is_none_or(|t| !t.exists());
            return PreviewMsg::Missing { photo, size, reason, gone };
        }
    };
    let image = shrink_for(picker, image, size);
    match picker.new_protocol(image, size, Resize::Scale(Some(FilterType::Triangle))) {
        Ok(protocol) => PreviewMsg::Ready { photo, size, protocol: Box::new(protocol) },
        Err(err) => PreviewMsg::Missing {
            photo,
            size,
            reason: format!("cannot encode: {err}"),
            gone: false,
        },
    }
}

fn decode(path: &Path) -> Result<DynamicImage, String> {
    image::ImageReader::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .with_guessed_format()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .decode()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// An original photo can be 12 MP: bring it near the target's pixel size before the
/// protocol's own resize, which would otherwise filter every source pixel.
fn shrink_for(picker: &Picker, image: DynamicImage, size: Size) -> DynamicImage {
    let font = picker.font_size();
    let (w, h) = (
        u32::from(size.width) * u32::from(font.width),
        u32::from(size.height) * u32::from(font.height),
    );
    if image.width() > 2 * w.max(1) && image.height() > 2 * h.max(1) {
        image.thumbnail(w * 2, h * 2)
    } else {
        image
    }
}

/// The previews on hand, by photo and size.
#[derive(Default)]
pub struct PreviewCache {
    map: HashMap<(PhotoId, (u16, u16)), Preview>,
}

/// Previews kept beyond the wanted ones, for going back and forth.
const KEEP_EXTRA: usize = 24;

impl PreviewCache {
    pub fn get(&self, photo: PhotoId, size: Size) -> Option<&Preview> {
        self.map.get(&(photo, key(size)))
    }

    pub fn contains(&self, photo: PhotoId, size: Size) -> bool {
        self.map.contains_key(&(photo, key(size)))
    }

    pub fn insert(&mut self, msg: PreviewMsg) {
        match msg {
            PreviewMsg::Ready { photo, size, protocol } => {
                self.map.insert((photo, key(size)), Preview::Ready(protocol));
            }
            PreviewMsg::Missing { photo, size, reason, .. } => {
                self.map.insert((photo, key(size)), Preview::Missing(reason));
            }
        }
    }

    /// Drops previews at sizes no longer wanted, and the oldest extras.
    pub fn prune(&mut self, wanted: &[(PhotoId, Size)]) {
        let wanted_sizes: HashSet<(u16, u16)> = wanted.iter().map(|(_, s)| key(*s)).collect();
        self.map.retain(|(_, s), _| wanted_sizes.contains(s));
        if self.map.len() > wanted.len() + KEEP_EXTRA {
            let keep: HashSet<(PhotoId, (u16, u16))> =
                wanted.iter().map(|(p, s)| (*p, key(*s))).collect();
            let extra: Vec<_> = self.map.keys().filter(|k| !keep.contains(k)).copied().collect();
            let excess = self.map.len() - wanted.len() - KEEP_EXTRA;
            for k in extra.into_iter().take(excess) {
                self.map.remove(&k);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
