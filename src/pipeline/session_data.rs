//! What a labeling session keeps in memory between its jobs: the embedding matrix of the
//! backbone it trains on, and the newest model's scores and ask-first order as its retrain made
//! them. A retrain after every answer then reads no embedding from SQLite (the matrix is loaded
//! once and topped up with the photos embedded since), and the queue build after it reads
//! neither the embeddings nor the scores the retrain just wrote.
//!
//! The catalog stays the truth: every model, score and order is committed before it is used
//! here, so a kill loses nothing, and the matrix is checked against the catalog each time it is
//! asked for (a count; an embedding added by a scan or another process is read once). Commands
//! that run once (`photosift train`) use a fresh one, which reads everything once.

use std::collections::HashMap;

use anyhow::Context;

use super::embed::load_clip;
use super::prompts::{PromptVectors, prompts};
use crate::catalog::{Catalog, CatalogError, EmbeddingTable};
use crate::config::Config;
use crate::domain::{ModelId, PhotoId};
use crate::model::BackboneId;
use crate::model::clip::CLIP_B32_BACKBONE_ID;

/// The session's memory; share it between jobs behind a mutex (`Arc<Mutex<SessionData>>`).
#[derive(Debug, Default)]
pub struct SessionData {
    features: Option<Features>,
    latest: Option<LatestScores>,
    /// CLIP's text embeddings of the session's prompts (loading CLIP takes a second).
    prompts: Option<PromptVectors>,
}

/// One backbone's embeddings, and where each photo's row is.
#[derive(Debug)]
pub struct Features {
    backbone: BackboneId,
    table: EmbeddingTable,
    row_of: HashMap<PhotoId, usize>,
}

/// A model version's scores and the photos it says to ask first, as committed.
#[derive(Debug, Clone, Default)]
pub struct LatestScores {
    pub model: ModelId,
    pub p: HashMap<PhotoId, f32>,
    pub ask_first: Vec<PhotoId>,
}

impl SessionData {
    /// The embeddings of `backbone`, up to date with `catalog`: all of them the first time or
    /// after the backbone changed (a fine-tuned version); afterwards only those of the photos
    /// embedded since, appended.
    pub fn features(
        &mut self,
        catalog: &Catalog,
        backbone: &BackboneId,
    ) -> Result<&Features, CatalogError> {
        let kept = match self.features.take() {
            Some(mut f) if &f.backbone == backbone => {
                let count = catalog.embedding_count(backbone.as_str())? as usize;
                if count > f.table.len() {
                    f.top_up(catalog)?;
                }
                // Fewer: embeddings went away with their photos; read them all again.
                (count >= f.table.len()).then_some(f)
            }
            _ => None,
        };
        let features = match kept {
            Some(f) => f,
            None => {
                let table = catalog.embedding_table(backbone.as_str())?;
                let row_of = table.ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
                Features { backbone: backbone.clone(), table, row_of }
            }
        };
        Ok(self.features.insert(features))
    }

    /// The prompt vectors for a model on `backbone`: `None` unless it is CLIP's and there are
    /// prompts. Kept here, so a session loads CLIP's text tower once per set of prompts.
    pub fn prompt_vectors(
        &mut self,
        catalog: &Catalog,
        config: &Config,
        backbone: &str,
    ) -> anyhow::Result<Option<PromptVectors>> {
        if backbone != CLIP_B32_BACKBONE_ID {
            return Ok(None);
        }
        let Some(prompts) = prompts(catalog, config)? else { return Ok(None) };
        if let Some(v) = self.prompts.as_ref().filter(|v| v.prompts == prompts) {
            return Ok(Some(v.clone()));
        }
        let clip = load_clip(&config.embed, "photosift train")?;
        let want = clip.embed_prompts(&prompts.want).context("embedding the want prompts")?;
        let other = clip.embed_prompts(&prompts.other).context("embedding the other prompts")?;
        let logit_scale = clip.model().logit_scale();
        let vectors = PromptVectors { prompts, want, other, logit_scale };
        self.prompts = Some(vectors.clone());
        Ok(Some(vectors))
    }

    /// Remembers the scores a retrain just committed.
    pub fn remember(&mut self, scores: LatestScores) {
        self.latest = Some(scores);
    }

    /// The scores of `model` and its ask-first order: the remembered ones while they are
    /// still all of the catalog's (a scan rescoring new photos adds to them), else read from
    /// the catalog and remembered.
    pub fn scores(
        &mut self,
        catalog: &Catalog,
        model: ModelId,
    ) -> Result<&LatestScores, CatalogError> {
        let fresh = match &self.latest {
            Some(s) if s.model == model => s.p.len() as u64 == catalog.score_count(model)?,
            _ => false,
        };
        if !fresh {
            let p = catalog.scores(model)?.into_iter().collect();
            self.latest = Some(LatestScores { model, p, ask_first: catalog.ask_first(model)? });
        }
        Ok(self.latest.get_or_insert_with(LatestScores::default))
    }
}

impl Features {
    /// Every embedding, one row per photo (in the order they were read).
    pub fn table(&self) -> &EmbeddingTable {
        &self.table
    }

    /// The row of `photo`'s embedding in [`Features::table`].
    pub fn row_index(&self, photo: PhotoId) -> Option<usize> {
        self.row_of.get(&photo).copied()
    }

    /// `photo`'s embedding.
    pub fn of(&self, photo: PhotoId) -> Option<&[f32]> {
        self.row_index(photo).map(|i| self.table.row(i))
    }

    /// Appends the embeddings of the photos embedded since the table was read.
    fn top_up(&mut self, catalog: &Catalog) -> Result<(), CatalogError> {
        let backbone = self.backbone.as_str();
        let new: Vec<PhotoId> = catalog
            .embedded_ids(backbone)?
            .into_iter()
            .filter(|id| !self.row_of.contains_key(id))
            .collect();
        for (id, vector) in catalog.embeddings_of(backbone, &new)? {
            if self.table.dim == 0 {
                self.table.dim = vector.len();
            }
            if vector.len() != self.table.dim {
                continue;
            }
            self.row_of.insert(id, self.table.ids.len());
            self.table.ids.push(id);
            self.table.data.extend_from_slice(&vector);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_read_once_and_topped_up_with_new_embeddings() {
        let mut catalog = crate::catalog::test_catalog_with_photos(4);
        let backbone = BackboneId::new("b");
        catalog.put_embeddings("b", &[(PhotoId(2), vec![1.0, 2.0])]).unwrap();
        let mut data = SessionData::default();
        assert_eq!(data.features(&catalog, &backbone).unwrap().table().ids, vec![PhotoId(2)]);
        // A photo embedded since (by a scan, another process): appended, not re-read whole.
        catalog
            .put_embeddings("b", &[(PhotoId(1), vec![3.0, 4.0]), (PhotoId(4), vec![5.0, 6.0])])
            .unwrap();
        let features = data.features(&catalog, &backbone).unwrap();
        assert_eq!(features.table().ids, vec![PhotoId(2), PhotoId(1), PhotoId(4)]);
        assert_eq!(features.of(PhotoId(1)), Some(&[3.0, 4.0][..]));
        // Another backbone (a fine-tuned version) replaces it.
        catalog.put_embeddings("c", &[(PhotoId(3), vec![7.0])]).unwrap();
        let table = data.features(&catalog, &BackboneId::new("c")).unwrap().table();
        assert_eq!((table.ids.clone(), table.dim), (vec![PhotoId(3)], 1));
    }

    #[test]
    fn remembered_scores_are_used_until_the_catalog_has_more() {
        let mut catalog = crate::catalog::test_catalog_with_photos(3);
        let model = crate::catalog::test_model("b");
        let id =
            catalog.insert_model_as(None, &model, &[(PhotoId(1), 0.5)], &[PhotoId(1)]).unwrap();
        let mut data = SessionData::default();
        // What the retrain remembered is used as it is (no read: the catalog agrees).
        let p = HashMap::from([(PhotoId(1), 0.25)]);
        data.remember(LatestScores { model: id, p, ask_first: vec![PhotoId(3)] });
        let s = data.scores(&catalog, id).unwrap();
        assert_eq!((s.p[&PhotoId(1)], s.ask_first.clone()), (0.25, vec![PhotoId(3)]));
        // A scan scored its new photos with the same model: read again, all of them.
        catalog.put_scores(id, &[(PhotoId(2), 0.9)]).unwrap();
        let s = data.scores(&catalog, id).unwrap();
        assert_eq!((s.p.len(), s.p[&PhotoId(2)], s.ask_first.clone()), (2, 0.9, vec![PhotoId(1)]));
        // Another model's scores are never taken for these.
        assert!(data.scores(&catalog, ModelId(99)).unwrap().p.is_empty());
    }
}
