//! The queues from the catalog: which photos are candidates and what the queues know about
//! each, and everything a labeling session loads with them. The TUI, `photosift queue` and
//! the tests read them through here, so they all see the same order.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::backbone::current_backbone;
use super::session_data::SessionData;
use crate::catalog::{Catalog, LabelCounts, Photo, PhotoState, Source, TakenSource};
use crate::config::Config;
use crate::domain::{LabelKind, PhotoId};
use crate::library::Library;
use crate::model::BackboneId;
use crate::queue::{self, BestEntry, Candidate};

/// What the screen shows about a photo; loaded off the UI task with the queues.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PhotoInfo {
    /// The original file.
    pub path: PathBuf,
    /// The thumbnail (absolute), when the catalog has one.
    pub thumb: Option<PathBuf>,
    pub taken_at: Option<i64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// p(desirable) under the newest model.
    pub p: Option<f32>,
    /// The original file is gone (the catalog says so, or this session found it gone): the
    /// photo shows from its thumbnail, if any, and cannot be exported.
    pub missing: bool,
    /// Where `taken_at` came from, and the clock's offset east of UTC in minutes.
    pub taken_source: Option<TakenSource>,
    pub taken_offset: Option<i32>,
    /// The video of a Live Photo.
    pub live_video: Option<PathBuf>,
    pub screenshot: bool,
}

/// The newest model version, for the status bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelSummary {
    pub version: i64,
    pub auc: Option<f64>,
}

/// Everything a queue rebuild produces.
#[derive(Debug, Clone, Default)]
pub struct QueueData {
    pub ambiguous: Vec<PhotoId>,
    pub best: Vec<BestEntry>,
    pub photos: HashMap<PhotoId, PhotoInfo>,
    pub model: Option<ModelSummary>,
    pub counts: LabelCounts,
    /// Seed and example photos with a label (`[seed]`): something to train on before any
    /// answer.
    pub seeds: u64,
    /// The photos the queues may ask about: camera photos that can be shown (not failed or
    /// missing; screenshots only with `[queue] include_screenshots`). The "of N" of the count.
    pub total_photos: usize,
    /// Built with embeddings (diversity, bursts); a quick first order has `false`.
    pub complete: bool,
}

/// How much a queue build reads.
#[derive(Clone, Copy)]
pub enum Build<'a> {
    /// Scores and labels only: reading 25,000 embeddings takes seconds, and the first photo
    /// should not wait for them.
    Quick,
    /// With the embeddings of the backbone training uses, normalized and centered (before the
    /// first model too: the cold start orders typical photos first by them), read through the
    /// session's memory, which the retrain before this build filled.
    Complete(&'a Mutex<SessionData>),
}

/// The queue candidates among `photos` (the catalog's): every camera photo that can be shown
/// (screenshots only when `[queue] include_screenshots`), with the latest model's scores and
/// ask-first order, and with embeddings when the build is [`Build::Complete`].
pub fn candidates(
    catalog: &Catalog,
    config: &Config,
    photos: &[Photo],
    build: Build<'_>,
) -> Result<Vec<Candidate>> {
    let model = catalog.latest_model().context("reading the latest model")?;
    let mut cands = match build {
        Build::Quick => {
            let (scores, ask_first) = match &model {
                Some(m) => (catalog.scores(m.id)?.into_iter().collect(), catalog.ask_first(m.id)?),
                None => (HashMap::new(), Vec::new()),
            };
            let mut cands = quick_candidates(catalog, photos, &scores)?;
            mark_ask_first(&mut cands, &ask_first);
            cands
        }
        Build::Complete(data) => {
            let backbone = current_backbone(catalog, config.embed.backbone)
                .context("reading which embeddings the library has")?
                .unwrap_or_else(BackboneId::bundled);
            let mut data = data.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut cands = match &model {
                Some(m) => {
                    let latest = data.scores(catalog, m.id).context("reading the scores")?;
                    let mut cands = quick_candidates(catalog, photos, &latest.p)?;
                    mark_ask_first(&mut cands, &latest.ask_first);
                    cands
                }
                None => quick_candidates(catalog, photos, &HashMap::new())?,
            };
            let features = data.features(catalog, &backbone).context("reading the embeddings")?;
            for c in &mut cands {
                c.embedding = features.of(c.photo).map(<[f32]>::to_vec);
            }
            drop(data);
            queue::center_embeddings(&mut cands);
            cands
        }
    };
    drop_screenshots(photos, config, &mut cands);
    Ok(cands)
}

/// The queue candidates as `scores` (a model just trained, not saved yet) rank them: scores
/// and labels only, no earlier look-ahead's picks. What the look-ahead chooses among.
pub fn scored_candidates(
    catalog: &Catalog,
    config: &Config,
    scores: &HashMap<PhotoId, f32>,
) -> Result<Vec<Candidate>> {
    let photos = catalog.photos().context("reading the photos")?;
    let mut cands = quick_candidates(catalog, &photos, scores)?;
    drop_screenshots(&photos, config, &mut cands);
    Ok(cands)
}

/// Screenshots leave the queues unless `[queue] include_screenshots`.
fn drop_screenshots(photos: &[Photo], config: &Config, cands: &mut Vec<Candidate>) {
    if !config.queue.include_screenshots {
        let shots: HashSet<PhotoId> =
            photos.iter().filter(|p| p.screenshot).map(|p| p.id).collect();
        cands.retain(|c| !shots.contains(&c.photo));
    }
}

/// Marks the photos a model version says to ask first (`learn::lookahead`) with their rank.
fn mark_ask_first(cands: &mut [Candidate], order: &[PhotoId]) {
    let rank: HashMap<PhotoId, u32> = order.iter().copied().zip(0..).collect();
    for c in cands {
        c.ask_first = rank.get(&c.photo).copied();
    }
}

/// Scores (`scores`) and labels of the camera photos among `photos` that can be shown; no
/// embedding is read.
fn quick_candidates(
    catalog: &Catalog,
    photos: &[Photo],
    scores: &HashMap<PhotoId, f32>,
) -> Result<Vec<Candidate>> {
    let kind: HashMap<_, _> = catalog.current_labels(LabelKind::Kind)?.into_iter().collect();
    let print: HashMap<_, _> = catalog.current_labels(LabelKind::Print)?.into_iter().collect();
    Ok(photos
        .iter()
        .filter(|p| p.source == Source::Camera && p.state == PhotoState::Ok)
        .map(|p| Candidate {
            photo: p.id,
            p: scores.get(&p.id).copied(),
            taken_at: p.taken_at,
            embedding: None,
            kind_label: kind.get(&p.id).copied(),
            print_label: print.get(&p.id).copied(),
            ask_first: None,
        })
        .collect())
}

/// Reads the catalog and orders both queues. Runs on a job thread with its own connection.
/// A [`Build::Quick`] leaves the embeddings out: the session starts on an order by score alone
/// and takes the complete one (diversity, bursts, typical photos first) when it lands.
pub fn load_queues(library: &Library, config: &Config, build: Build<'_>) -> Result<QueueData> {
    let catalog = library.open_catalog()?;
    build_queues(&catalog, library, config, build)
}

pub fn build_queues(
    catalog: &Catalog,
    library: &Library,
    config: &Config,
    build: Build<'_>,
) -> Result<QueueData> {
    let model = catalog.latest_model().context("reading the latest model")?;
    let photos = catalog.photos().context("reading the photos")?;
    let candidates = candidates(catalog, config, &photos, build)?;
    let p: HashMap<_, _> = candidates.iter().filter_map(|c| Some((c.photo, c.p?))).collect();

    let mut infos = HashMap::with_capacity(candidates.len());
    for photo in photos {
        // Files that could not be read are never asked about (and `total_photos` counts only
        // the candidates: 100,000 empty files are not 100,000 photos).
        if photo.source != Source::Camera || photo.state == PhotoState::Error {
            continue;
        }
        infos.insert(
            photo.id,
            PhotoInfo {
                thumb: photo.thumb_path.as_ref().map(|t| library.root().join(t)),
                p: p.get(&photo.id).copied(),
                path: photo.path,
                taken_at: photo.taken_at,
                width: photo.width,
                height: photo.height,
                missing: photo.state == PhotoState::Missing,
                taken_source: photo.taken_source,
                taken_offset: photo.taken_offset,
                live_video: photo.live_video,
                screenshot: photo.screenshot,
            },
        );
    }
    Ok(QueueData {
        ambiguous: queue::ambiguous(&candidates, &config.queue),
        best: queue::best_first(&candidates, &config.queue),
        total_photos: candidates.len(),
        photos: infos,
        complete: matches!(build, Build::Complete(_)),
        model: model.map(|m| ModelSummary { version: m.id.0, auc: m.cv_auc }),
        counts: catalog.label_counts()?,
        seeds: catalog.synthetic_seed_labels()?.len() as u64,
    })
}

/// Which queue [`listing`] prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// "Is this the sort of image I want?": the photos the model is least sure of.
    Ambiguous,
    /// "Is this an image I want?": the likeliest picks first, bursts together.
    Best,
}

/// One photo of a printed queue: its p, its burst group (best-first), its original file.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub p: Option<f32>,
    pub group: Option<usize>,
    pub path: PathBuf,
}

/// The first `n` photos of a queue, in the order the TUI asks them (`photosift queue`);
/// `None` for the best-first queue before any model has scored the photos.
pub fn listing(
    catalog: &Catalog,
    config: &Config,
    which: Listed,
    n: usize,
) -> Result<Option<Vec<QueueRow>>> {
    if which == Listed::Best && catalog.latest_model()?.is_none() {
        return Ok(None);
    }
    let photos = catalog.photos().context("reading the photos")?;
    let cands = candidates(catalog, config, &photos, Build::Complete(&Mutex::default()))?;
    let p: HashMap<PhotoId, Option<f32>> = cands.iter().map(|c| (c.photo, c.p)).collect();
    let paths: HashMap<PhotoId, PathBuf> = photos.into_iter().map(|p| (p.id, p.path)).collect();
    let order: Vec<(PhotoId, Option<usize>)> = match which {
        Listed::Ambiguous => {
            queue::ambiguous(&cands, &config.queue).into_iter().map(|id| (id, None)).collect()
        }
        Listed::Best => queue::best_first(&cands, &config.queue)
            .into_iter()
            .map(|e| (e.photo, Some(e.group)))
            .collect(),
    };
    order
        .into_iter()
        .take(n)
        .map(|(id, group)| {
            let path =
                paths.get(&id).cloned().context("a queued photo vanished from the catalog")?;
            Ok(QueueRow { p: p.get(&id).copied().flatten(), group, path })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::NewPhoto;
    use crate::model::BACKBONE_ID;

    fn unit(axis: usize, wobble: f32) -> Vec<f32> {
        let mut v = vec![0.0; 8];
        v[axis] = 1.0;
        v[(axis + 1) % 8] = wobble;
        v
    }

    /// Photo `i` at `/p/<i>.jpg`, its own content.
    fn new_photo(i: usize) -> NewPhoto {
        NewPhoto {
            path: format!("/p/{i}.jpg").into(),
            content_hash: format!("h{i}"),
            ..Default::default()
        }
    }

    #[test]
    fn the_cold_start_orders_by_the_stored_embeddings() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::create(dir.path()).unwrap();
        let mut catalog = library.open_catalog().unwrap();
        let photos: Vec<NewPhoto> = (0..6).map(new_photo).collect();
        let ids = catalog.insert_photos(&photos).unwrap();
        // Photos 0 and 1 are near-duplicates; the others are unlike anything.
        let vectors =
            [unit(0, 0.0), unit(0, 0.01), unit(2, 0.0), unit(3, 0.0), unit(4, 0.0), unit(5, 0.0)];
        let rows: Vec<_> = ids.iter().copied().zip(vectors).collect();
        catalog.put_embeddings(BACKBONE_ID, &rows).unwrap();
        let data = build_queues(
            &catalog,
            &library,
            &Config::default(),
            Build::Complete(&Mutex::default()),
        )
        .unwrap();
        assert!(data.model.is_none());
        assert_eq!(data.ambiguous.len(), 6);
        // Without embeddings the cold start falls back to id order with the near-duplicates
        // side by side; with them, they are kept apart.
        let at = |id| data.ambiguous.iter().position(|p| *p == id).unwrap();
        assert!(at(ids[0]).abs_diff(at(ids[1])) > 1, "{:?}", data.ambiguous);
    }

    /// Issue 31, item 11: 100,000 empty files made the session say "0/100000 answered".
    #[test]
    fn failed_files_are_not_counted_among_the_photos_to_answer() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::create(dir.path()).unwrap();
        let mut catalog = library.open_catalog().unwrap();
        let photos: Vec<NewPhoto> = (0..6)
            .map(|i| NewPhoto {
                state: if i < 2 || i == 5 { PhotoState::Ok } else { PhotoState::Error },
                error: (2..5).contains(&i).then(|| "empty file".to_owned()),
                // Issue 30: a screenshot the queues leave out is not counted as answered.
                screenshot: i == 5,
                ..new_photo(i)
            })
            .collect();
        catalog.insert_photos(&photos).unwrap();
        let data = build_queues(&catalog, &library, &Config::default(), Build::Quick).unwrap();
        assert_eq!(data.total_photos, 2);
        assert_eq!(data.ambiguous.len(), 2, "all of them still to ask: 0 of 2 answered");
    }

    #[test]
    fn candidates_have_the_training_embeddings_normalized_and_centered() {
        let mut catalog = crate::catalog::test_catalog_with_photos(3);
        catalog
            .put_embeddings(
                BACKBONE_ID,
                &[(PhotoId(1), vec![3.0, 4.0]), (PhotoId(3), vec![2.0, 0.0])],
            )
            .unwrap();
        let photos = catalog.photos().unwrap();
        let complete = Build::Complete(&Mutex::default());
        let c = candidates(&catalog, &Config::default(), &photos, complete).unwrap();
        assert_eq!(c.len(), 3);
        // Unit vectors (0.6, 0.8) and (1, 0) around their mean (0.8, 0.4), re-normalized.
        let e = c[0].embedding.clone().unwrap();
        let want = [-1.0 / 5f32.sqrt(), 2.0 / 5f32.sqrt()];
        assert!(e.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{e:?}");
        assert_eq!(c[1].embedding, None);
        // The quick order reads no embedding at all.
        let quick = candidates(&catalog, &Config::default(), &photos, Build::Quick).unwrap();
        assert!(quick.iter().all(|c| c.embedding.is_none()) && quick.len() == 3);
    }

    #[test]
    fn candidates_join_the_latest_scores_labels_and_embeddings() {
        use crate::domain::{Decision, DecisionMode, LabelValue};
        let mut cat = Catalog::open_in_memory().unwrap();
        cat.insert_test_photo(1, None, BACKBONE_ID, &[3.0, 4.0]);
        cat.insert_test_photo(2, None, "another backbone", &[1.0]);
        cat.insert_test_photo(3, Some(true), BACKBONE_ID, &[1.0, 1.0]);
        cat.insert_test_photo(4, None, BACKBONE_ID, &[2.0, 0.0]);
        let model = crate::catalog::test_model(BACKBONE_ID);
        cat.insert_model(&model, &[(PhotoId(1), 0.1)]).unwrap();
        cat.insert_model_as(None, &model, &[(PhotoId(1), 0.7)], &[PhotoId(4)]).unwrap();
        cat.record_decisions(&[Decision::single(
            PhotoId(2),
            DecisionMode::Ambiguous,
            LabelKind::Kind,
            LabelValue::No,
        )])
        .unwrap();
        let photos = cat.photos().unwrap();
        let data = Mutex::default();
        for build in [Build::Quick, Build::Complete(&data), Build::Complete(&data)] {
            let c = candidates(&cat, &Config::default(), &photos, build).unwrap();
            assert_eq!(c.len(), 3, "synthetic photos are not shown");
            assert_eq!(c[0].p, Some(0.7), "the latest model's score");
            assert_eq!((c[1].p, c[1].kind_label), (None, Some(LabelValue::No)));
            assert_eq!((c[0].ask_first, c[2].ask_first), (None, Some(0)));
            let complete = matches!(build, Build::Complete(_));
            assert_eq!(c[0].embedding.is_some(), complete);
            assert_eq!(c[1].embedding, None);
        }
    }
}
