//! Which embeddings a library works with: the one place that decides the [`BackboneId`] the
//! queues, training, scoring and the TUI's cold start read.

use anyhow::bail;

use crate::catalog::{Catalog, CatalogError};
use crate::config::{Backbone, Config};
use crate::model::clip::CLIP_B32_BACKBONE_ID;
use crate::model::{BACKBONE_ID, BackboneId};

/// The id `[embed] backbone` stores its embeddings under.
pub fn configured_id(configured: Backbone) -> BackboneId {
    match configured {
        Backbone::Lite0 => BackboneId::bundled(),
        Backbone::ClipB32 => BackboneId::new(CLIP_B32_BACKBONE_ID),
    }
}

/// The backbone to train on and order the queues by, for `configured` (`[embed] backbone`).
///
/// CLIP once the photos have their CLIP embeddings: while the switch re-embeds the library in the
/// background, labeling goes on with the features the library had, and the queues switch in
/// one step when the new ones are complete (a head trained on half the library would leave the
/// other half unscored). Otherwise: after fine-tuning, the new version once its embeddings are
/// computed; otherwise the bundled backbone's photo features; before the first embedding pass
/// of a library made by an older photosift, the backbone with the most embeddings. `None` when
/// nothing is embedded yet.
pub fn current_backbone(
    catalog: &Catalog,
    configured: Backbone,
) -> Result<Option<BackboneId>, CatalogError> {
    if configured == Backbone::ClipB32 && clip_complete(catalog)? {
        return Ok(Some(configured_id(configured)));
    }
    if let Some(latest) = catalog.latest_model()?
        && !BackboneId::SUPERSEDED.contains(&latest.backbone.as_str())
        && latest.backbone != CLIP_B32_BACKBONE_ID
        && catalog.embedding_count(&latest.backbone)? > 0
    {
        return Ok(Some(BackboneId::new(latest.backbone)));
    }
    if catalog.embedding_count(BACKBONE_ID)? > 0 {
        return Ok(Some(BackboneId::bundled()));
    }
    Ok(catalog.embedding_backbones()?.into_iter().next().map(|(b, _)| BackboneId::new(b)))
}

/// What `status` and `doctor` say about the backbone.
#[derive(Debug, Clone, PartialEq)]
pub struct BackboneStatus {
    /// `[embed] backbone`.
    pub configured: Backbone,
    /// The configured backbone's weights are on this machine (Lite0's are built in).
    pub weights_present: bool,
    /// Where they were looked for, in words.
    pub weights_where: String,
    /// What the queues and training use now (`None`: nothing embedded yet).
    pub in_use: Option<BackboneId>,
    /// Photos with an embedding of the configured backbone, of those to embed.
    pub embedded: u64,
    pub photos: u64,
}

/// The backbone as configured and as used. No network: the hub cache is only looked in.
pub fn backbone_status(catalog: &Catalog, config: &Config) -> anyhow::Result<BackboneStatus> {
    let configured = config.embed.backbone;
    let (weights_present, weights_where) = configured_weights(config);
    let id = configured_id(configured);
    let photos = catalog.photo_counts()?.ok;
    let missing = catalog.photos_missing_embedding(id.as_str())?.len() as u64;
    Ok(BackboneStatus {
        configured,
        weights_present,
        weights_where,
        in_use: current_backbone(catalog, configured)?,
        embedded: photos.saturating_sub(missing),
        photos,
    })
}

/// Whether `[embed] backbone`'s weights are on this machine, and where they were looked for.
pub fn configured_weights(config: &Config) -> (bool, String) {
    match config.embed.backbone {
        Backbone::Lite0 if config.model.weights.as_os_str().is_empty() => {
            (true, "built in".to_owned())
        }
        Backbone::Lite0 => {
            (config.model.weights.is_file(), crate::show::path(&config.model.weights))
        }
        Backbone::ClipB32 => {
            let source = super::embed::clip_source(&config.embed);
            let revision = if source.revision.is_empty() { "main" } else { &source.revision };
            let dir = if source.weights_dir.as_os_str().is_empty() {
                String::new()
            } else {
                format!("{} or ", crate::show::path(&source.weights_dir))
            };
            (
                crate::model::clip::load::present(&source),
                format!("{dir}the hf-hub cache ({} at {revision})", source.repo),
            )
        }
    }
}

/// Photos lack an embedding of `[embed] backbone` (after a switch to CLIP): a session should
/// start the embedding job (a scan of no folder) so that the switch completes meanwhile.
pub fn needs_embedding(catalog: &Catalog, config: &Config) -> Result<bool, CatalogError> {
    if config.embed.backbone == Backbone::Lite0 {
        return Ok(false);
    }
    let id = configured_id(config.embed.backbone);
    Ok(!catalog.photos_missing_embedding(id.as_str())?.is_empty())
}

/// CLIP covers at least the photos the bundled features cover (and one): every photo the
/// session could queue has its CLIP embedding. (A count, not "no photo lacks one": a photo
/// whose thumbnail cannot be read has neither, and must not hold the switch back forever.)
fn clip_complete(catalog: &Catalog) -> Result<bool, CatalogError> {
    let clip = catalog.embedding_count(CLIP_B32_BACKBONE_ID)?;
    Ok(clip > 0 && clip >= catalog.embedding_count(BACKBONE_ID)?)
}

/// [`current_backbone`], or an error saying what to do when nothing is embedded yet: embed
/// the photos the catalog has (after `scan --no-embed`), or scan some first.
pub fn require_backbone(catalog: &Catalog, configured: Backbone) -> anyhow::Result<BackboneId> {
    match current_backbone(catalog, configured)? {
        Some(backbone) => Ok(backbone),
        None if catalog.photo_counts()?.ok > 0 => {
            bail!("no photo is embedded yet: run `photosift embed` to embed the scanned photos")
        }
        None => bail!("no photo is scanned yet: run `photosift scan DIR` first"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NewModel, NewPhoto};

    fn catalog(photos: usize) -> Catalog {
        let mut cat = Catalog::open_in_memory().unwrap();
        let rows: Vec<NewPhoto> = (0..photos)
            .map(|i| NewPhoto {
                path: format!("/p/{i}.jpg").into(),
                content_hash: format!("h{i}"),
                ..Default::default()
            })
            .collect();
        cat.insert_photos(&rows).unwrap();
        cat
    }

    fn model(backbone: &str) -> NewModel {
        NewModel {
            backbone: backbone.into(),
            kind: crate::domain::ModelKind::Head,
            n_positive: 1,
            n_negative: 1,
            n_synthetic: 0,
            cv_auc: None,
            params: Vec::new(),
            info: "{}".into(),
        }
    }

    fn current(cat: &Catalog) -> Option<String> {
        current_backbone(cat, Backbone::Lite0).unwrap().map(|b| b.as_str().to_owned())
    }

    #[test]
    fn a_switch_to_clip_takes_effect_when_every_photo_has_its_clip_embedding() {
        let mut cat = catalog(3);
        let ids: Vec<_> = cat.photos().unwrap().into_iter().map(|p| p.id).collect();
        let rows: Vec<_> = ids.iter().map(|&id| (id, vec![0.5; 4])).collect();
        cat.put_embeddings(BACKBONE_ID, &rows).unwrap();
        let clip = |cat: &Catalog| {
            current_backbone(cat, Backbone::ClipB32).unwrap().map(|b| b.as_str().to_owned())
        };
        // Re-embedding: two of three done, the labels go on with Lite0's features.
        cat.put_embeddings(CLIP_B32_BACKBONE_ID, &rows[..2]).unwrap();
        assert_eq!(clip(&cat).as_deref(), Some(BACKBONE_ID));
        cat.put_embeddings(CLIP_B32_BACKBONE_ID, &rows[2..]).unwrap();
        assert_eq!(clip(&cat).as_deref(), Some(CLIP_B32_BACKBONE_ID));
        // A model trained on CLIP does not hold a library switched back to Lite0.
        cat.insert_model(&model(CLIP_B32_BACKBONE_ID), &[]).unwrap();
        assert_eq!(current(&cat).as_deref(), Some(BACKBONE_ID));
    }

    #[test]
    fn before_any_model_the_bundled_features_are_used() {
        let mut cat = catalog(2);
        assert_eq!(current(&cat), None);
        let ids: Vec<_> = cat.photos().unwrap().into_iter().map(|p| p.id).collect();
        let rows: Vec<_> = ids.iter().map(|&id| (id, vec![0.5; 4])).collect();
        cat.put_embeddings(BACKBONE_ID, &rows).unwrap();
        assert_eq!(current(&cat).as_deref(), Some(BACKBONE_ID));
    }

    #[test]
    fn an_upgraded_library_moves_to_the_photo_features_once_they_exist() {
        let mut cat = catalog(2);
        let ids: Vec<_> = cat.photos().unwrap().into_iter().map(|p| p.id).collect();
        let old: Vec<_> = ids.iter().map(|&id| (id, vec![1.0, 0.0])).collect();
        cat.put_embeddings(BackboneId::OLD, &old).unwrap();
        cat.insert_model(&model(BackboneId::OLD), &[]).unwrap();
        // Before the new features are computed, the old embeddings are all there is.
        assert_eq!(current(&cat).as_deref(), Some(BackboneId::OLD));
        let new: Vec<_> = ids.iter().map(|&id| (id, vec![0.5; 4])).collect();
        cat.put_embeddings(BACKBONE_ID, &new).unwrap();
        assert_eq!(current(&cat).as_deref(), Some(BACKBONE_ID));
        // A fine-tuned version, once embedded, is trained on.
        cat.put_embeddings("lite0-ft-2", &new).unwrap();
        cat.insert_model(&model("lite0-ft-2"), &[]).unwrap();
        assert_eq!(current(&cat).as_deref(), Some("lite0-ft-2"));
    }

    #[test]
    fn a_model_on_the_average_pooled_features_moves_to_the_max_pooled_ones() {
        let mut cat = catalog(2);
        let ids: Vec<_> = cat.photos().unwrap().into_iter().map(|p| p.id).collect();
        let rows: Vec<_> = ids.iter().map(|&id| (id, vec![0.5; 4])).collect();
        cat.put_embeddings("lite0-mid-s224", &rows).unwrap();
        cat.insert_model(&model("lite0-mid-s224"), &[]).unwrap();
        assert_eq!(current(&cat).as_deref(), Some("lite0-mid-s224"));
        cat.put_embeddings(BACKBONE_ID, &rows).unwrap();
        assert_eq!(current(&cat).as_deref(), Some(BACKBONE_ID));
    }

    /// Issue 31, item 11: after `scan --no-embed`, retraining in the TUI said "run `photosift
    /// scan DIR` first", and that scan (nothing new) changed nothing.
    #[test]
    fn scanned_photos_without_embeddings_point_to_embed_not_scan() {
        let err = require_backbone(&catalog(2), Backbone::Lite0).unwrap_err().to_string();
        assert!(err.contains("photosift embed"), "{err}");
        let err = require_backbone(&catalog(0), Backbone::Lite0).unwrap_err().to_string();
        assert!(err.contains("photosift scan"), "{err}");
    }
}
