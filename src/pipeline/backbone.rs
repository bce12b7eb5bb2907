//! Which embeddings a library works with: the one place that decides the [`BackboneId`] the
//! queues, training, scoring and the TUI's cold start read.

use anyhow::bail;

use crate::catalog::{Catalog, CatalogError};
use crate::model::{BACKBONE_ID, BackboneId};

/// The backbone to train on and order the queues by: after fine-tuning, the new version once
/// its embeddings are computed; otherwise the bundled backbone's photo features; before the
/// first embedding pass of a library made by an older photosift, the backbone with the most
/// embeddings. `None` when nothing is embedded yet.
pub fn current_backbone(catalog: &Catalog) -> Result<Option<BackboneId>, CatalogError> {
    if let Some(latest) = catalog.latest_model()?
        && !BackboneId::SUPERSEDED.contains(&latest.backbone.as_str())
        && catalog.embedding_count(&latest.backbone)? > 0
    {
        return Ok(Some(BackboneId::new(latest.backbone)));
    }
    if catalog.embedding_count(BACKBONE_ID)? > 0 {
        return Ok(Some(BackboneId::bundled()));
    }
    Ok(catalog.embedding_backbones()?.into_iter().next().map(|(b, _)| BackboneId::new(b)))
}

/// [`current_backbone`], or an error saying what to do when nothing is embedded yet: embed
/// the photos the catalog has (after `scan --no-embed`), or scan some first.
pub fn require_backbone(catalog: &Catalog) -> anyhow::Result<BackboneId> {
    match current_backbone(catalog)? {
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
        current_backbone(cat).unwrap().map(|b| b.as_str().to_owned())
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
        let err = require_backbone(&catalog(2)).unwrap_err().to_string();
        assert!(err.contains("photosift embed"), "{err}");
        let err = require_backbone(&catalog(0)).unwrap_err().to_string();
        assert!(err.contains("photosift scan"), "{err}");
    }
}
