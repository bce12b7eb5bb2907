//! The `train`, `score`, `queue` and `eval` subcommands: argument handling, progress bars and
//! printing around `photosift::learn` and `photosift::queue`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use photosift::catalog::Catalog;
use photosift::config::Config;
use photosift::learn::{self, TrainSettings, eval};
use photosift::library::Library;
use photosift::queue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueMode {
    /// "Is this the sort of image I want?": the photos the model is least sure of.
    Ambiguous,
    /// "Is this an image I want?": the likeliest picks first, bursts together.
    Best,
}

/// Options of `photosift eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// CSV of `file,label` (1 = desirable); a header line is skipped.
    #[arg(long, value_name = "CSV")]
    pub truth: PathBuf,
    /// Folder of photos the truth file names.
    pub dir: PathBuf,
    /// Retrain after this many labels.
    #[arg(long, default_value_t = 2)]
    pub every: usize,
    /// Stop after this many labels.
    #[arg(long, default_value_t = 48)]
    pub max_labels: usize,
    /// K of precision@K of the best-first queue.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Runs of the random order to average.
    #[arg(long, default_value_t = 5)]
    pub random_runs: usize,
    /// Where to write the plot.
    #[arg(long, default_value = "eval.png")]
    pub plot: PathBuf,
    /// Instead of the simulation: at each of these label counts (e.g. 20,32,48), train on
    /// random labeled subsets with the frozen backbone and with fine-tuning (the `[train]
    /// finetune_*` settings) and print the AUC of both on the other photos.
    #[arg(long, value_name = "COUNTS", value_delimiter = ',')]
    pub finetune_compare: Vec<usize>,
    /// Random labeled subsets per label count of `--finetune-compare`.
    #[arg(long, default_value_t = 3)]
    pub compare_runs: usize,
}

/// The backbone to train on: after fine-tuning, the new version once its embeddings are
/// recomputed; otherwise the bundled backbone's photo features, or (before the first embedding
/// pass of a library made by an older photosift) the backbone with the most embeddings.
pub fn current_backbone(catalog: &Catalog) -> Result<String> {
    if let Some(latest) = catalog.latest_model()?
        && latest.backbone != OLD_BACKBONE_ID
        && catalog.embedding_count(&latest.backbone)? > 0
    {
        return Ok(latest.backbone);
    }
    if catalog.embedding_count(photosift::model::BACKBONE_ID)? > 0 {
        return Ok(photosift::model::BACKBONE_ID.to_owned());
    }
    match catalog.embedding_backbones()?.into_iter().next() {
        Some((backbone, _)) => Ok(backbone),
        None => bail!("no photo is embedded yet: run `photosift scan DIR` first"),
    }
}

/// Where photosift before the photo features stored its 1280-d pooled embeddings: a model
/// trained on them is not a reason to keep training on them once the new features exist.
const OLD_BACKBONE_ID: &str = "lite0-imagenet";

fn percent_bar() -> ProgressBar {
    let bar = ProgressBar::new(100);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos:>3}% {msg}") {
        bar.set_style(style);
    }
    bar
}

pub fn train(config: &Config, library: &Library, finetune: bool) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    let bar = percent_bar();
    let progress = |f: f32, what: &str| {
        bar.set_position((f * 100.0) as u64);
        bar.set_message(what.to_owned());
    };
    let report = if finetune {
        let ft = learn::finetune_and_score(&mut catalog, library, config, &progress)?;
        bar.finish_and_clear();
        let loss: Vec<String> = ft.epoch_loss.iter().map(|l| format!("{l:.3}")).collect();
        println!(
            "fine-tuned backbone {} on {} labeled images x {} views in {:.1} s (loss per epoch: {}); \
             weights {}",
            ft.backbone,
            ft.n_images,
            ft.views,
            ft.finetune_ms / 1000.0,
            loss.join(" "),
            ft.weights.display()
        );
        println!("embedded {} photos with it in {:.1} s", ft.embedded, ft.embed_ms / 1000.0);
        if ft.n_unreadable > 0 {
            println!(
                "{} labeled photos have no readable thumbnail and were left out",
                ft.n_unreadable
            );
        }
        println!(
            "note: the cross-validated AUC below is optimistic: the backbone was tuned on the \
             same labels"
        );
        ft.train
    } else {
        let backbone = current_backbone(&catalog)?;
        let report = learn::train_and_score(&mut catalog, config, &backbone, &progress)?;
        bar.finish_and_clear();
        report
    };
    println!(
        "model {}: {} yes, {} no, {} seed images; cross-validated AUC {}",
        report.model.0,
        report.n_positive,
        report.n_negative,
        report.n_synthetic,
        report.cv_auc.map_or("- (too few labels)".to_owned(), |a| format!("{a:.3}")),
    );
    println!(
        "scored {} photos in {:.0} ms (read {:.0}, train {:.0}, score {:.0}, save {:.0})",
        report.scored,
        report.read_ms + report.train_ms + report.score_ms + report.write_ms,
        report.read_ms,
        report.train_ms,
        report.score_ms,
        report.write_ms
    );
    if report.n_unembedded > 0 {
        println!("{} labeled photos are not embedded yet and were left out", report.n_unembedded);
    }
    if let Some(note) = report.note {
        println!("note: {note}");
    }
    Ok(())
}

pub fn score(library: &Library) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    match learn::score_latest(&mut catalog)? {
        Some((model, n)) => println!("scored {n} photos with model {}", model.0),
        None => bail!("no model yet: label some photos and run `photosift train`"),
    }
    Ok(())
}

/// After a scan: the new photos get a score from the current model, so best mode and `queue`
/// see them without a retrain.
pub fn score_after_scan(library: &Library) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    if let Some((model, n)) = learn::score_latest(&mut catalog)? {
        println!("scored {n} photos with the current model v{} (new ones included)", model.0);
    }
    Ok(())
}

/// Prints the next `n` photos of a queue, one per line: `p<TAB>path` (ambiguous) or
/// `p<TAB>group<TAB>path` (best; photos of one burst share the group number).
pub fn print_queue(
    config: &Config,
    library: &Library,
    mode: QueueMode,
    n: usize,
    null: bool,
) -> Result<()> {
    let catalog = library.open_catalog()?;
    if mode == QueueMode::Best && catalog.latest_model()?.is_none() {
        // Best-first orders by the model's scores: nothing to print before there is one.
        eprintln!(
            "no model yet, so no best-first order: label some photos (photosift label), then \
             run `photosift train`"
        );
        return Ok(());
    }
    let backbone = current_backbone(&catalog).unwrap_or_default();
    let mut cands = catalog.candidates(&backbone)?;
    if !config.queue.include_screenshots {
        let shots = catalog.screenshot_ids()?;
        cands.retain(|c| !shots.contains(&c.photo));
    }
    let p_of: std::collections::HashMap<_, _> = cands.iter().map(|c| (c.photo, c.p)).collect();
    let fmt_p = |p: Option<f32>| p.map_or("-".to_owned(), |p| format!("{p:.3}"));
    let path_of = |id| -> Result<std::path::PathBuf> {
        let photo = catalog.photo(id)?.context("a queued photo vanished from the catalog")?;
        Ok(photo.path)
    };
    // One photo per record: escaped on one line, or raw and NUL-terminated for scripts.
    let mut out = std::io::stdout().lock();
    let mut emit = |fields: String, path: std::path::PathBuf| -> Result<()> {
        use std::io::Write;
        use std::os::unix::ffi::OsStrExt;
        if null {
            out.write_all(fields.as_bytes())?;
            out.write_all(path.as_os_str().as_bytes())?;
            out.write_all(b"\0")?;
        } else {
            writeln!(out, "{fields}{}", photosift::show::path(&path))?;
        }
        Ok(())
    };
    match mode {
        QueueMode::Ambiguous => {
            for id in queue::ambiguous(&cands, &config.queue).into_iter().take(n) {
                emit(format!("{}\t", fmt_p(p_of[&id])), path_of(id)?)?;
            }
        }
        QueueMode::Best => {
            for e in queue::best_first(&cands, &config.queue).into_iter().take(n) {
                emit(format!("{}\t{}\t", fmt_p(p_of[&e.photo]), e.group), path_of(e.photo)?)?;
            }
        }
    }
    Ok(())
}

/// Runs the oracle simulation on the photos of `catalog` named in the truth file (they must
/// be scanned and embedded with `backbone`), prints the table and writes the plot.
pub fn eval_catalog(
    config: &Config,
    catalog: &Catalog,
    backbone: &str,
    args: &EvalArgs,
) -> Result<()> {
    let text = std::fs::read_to_string(&args.truth)
        .with_context(|| format!("cannot read the truth file {}", args.truth.display()))?;
    let truth = eval::parse_truth(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("bad truth file {}", args.truth.display()))?;
    let photos: Vec<_> = catalog.photos()?.into_iter().map(|p| (p.id, p.path)).collect();
    let (matched, unmatched) = eval::match_truth(&photos, &truth);
    if !unmatched.is_empty() {
        eprintln!(
            "{} truth rows match no scanned photo (e.g. {}); they are left out",
            unmatched.len(),
            unmatched[0]
        );
    }
    let table = catalog.embedding_table(backbone)?;
    let row_of: std::collections::HashMap<_, _> =
        table.ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let taken: std::collections::HashMap<_, _> =
        catalog.photos()?.into_iter().map(|p| (p.id, p.taken_at)).collect();
    let mut data = Vec::new();
    let mut labels = Vec::new();
    let mut taken_at = Vec::new();
    for (id, label) in &matched {
        if let Some(&row) = row_of.get(id) {
            data.extend_from_slice(table.row(row));
            labels.push(*label);
            taken_at.push(taken.get(id).copied().flatten());
        }
    }
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 || positives == labels.len() {
        bail!("the truth file needs both desirable and other photos among the embedded ones");
    }
    println!(
        "{} photos ({} desirable), retrain every {} labels, up to {} labels",
        labels.len(),
        positives,
        args.every,
        args.max_labels
    );
    let cfg = eval::SimConfig {
        retrain_every: args.every,
        max_labels: args.max_labels,
        precision_k: args.k,
        random_runs: args.random_runs,
        settings: TrainSettings { l2: config.train.l2 },
        queue: config.queue.clone(),
    };
    let bar = ProgressBar::new_spinner();
    let curves = eval::simulate_all(&data, table.dim, &labels, &taken_at, &cfg, &|what| {
        bar.set_message(what.to_owned());
        bar.tick();
    })?;
    bar.finish_and_clear();
    print!("{}", eval::table(&curves, args.k, 0.95));
    let title = format!("photosift eval: {} photos, {positives} desirable", labels.len());
    learn::plot::draw(&args.plot, &curves, args.k, &title)?;
    println!("plot: {}", args.plot.display());
    Ok(())
}

/// `photosift eval --truth CSV DIR`: scans DIR into a temporary library, embeds it, and runs
/// the simulation on the photos the truth file names.
pub fn eval_dir(config: &Config, args: &EvalArgs) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("photosift-eval-").tempdir()?;
    let library = Library::create(dir.path())?;
    let mut catalog = library.open_catalog()?;
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("scanning {}", args.dir.display()));
    photosift::ingest::scan(
        &mut catalog,
        &library,
        std::slice::from_ref(&args.dir),
        &config.scan,
        &|p| {
            bar.set_message(format!("scanning: {}/{}", p.done, p.total));
            bar.tick();
        },
    )
    .with_context(|| format!("cannot scan {}", args.dir.display()))?;
    photosift::model::embed_missing(&mut catalog, &library, &config.model, &|done, total| {
        bar.set_message(format!("embedding: {done}/{total}"));
        bar.tick();
    })?;
    bar.finish_and_clear();
    if args.finetune_compare.is_empty() {
        eval_catalog(config, &catalog, photosift::model::BACKBONE_ID, args)
    } else {
        compare_catalog(config, &catalog, &library, args)
    }
}

/// `eval --finetune-compare`: frozen head vs fine-tuning at fixed label counts on the photos
/// the truth file names.
fn compare_catalog(
    config: &Config,
    catalog: &Catalog,
    library: &Library,
    args: &EvalArgs,
) -> Result<()> {
    let text = std::fs::read_to_string(&args.truth)
        .with_context(|| format!("cannot read the truth file {}", args.truth.display()))?;
    let truth = eval::parse_truth(&text).map_err(anyhow::Error::msg)?;
    let photos = catalog.photos()?;
    let pairs: Vec<_> = photos.iter().map(|p| (p.id, p.path.clone())).collect();
    let (matched, _) = eval::match_truth(&pairs, &truth);
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (id, label) in matched {
        let thumb = photos.iter().find(|p| p.id == id).and_then(|p| p.thumb_path.as_ref());
        if let Ok(img) = photosift::model::load_thumb(library.root(), thumb) {
            images.push(img);
            labels.push(label);
        }
    }
    let positives = labels.iter().filter(|&&l| l).count();
    println!(
        "{} photos ({positives} desirable); {} random labeled subsets per count; fine-tuning from \
         stage {}, {} epochs, {} views per image",
        labels.len(),
        args.compare_runs,
        config.train.finetune_stage,
        config.train.finetune_epochs,
        config.train.finetune_views
    );
    let too_many: Vec<_> = args.finetune_compare.iter().filter(|&&c| c >= labels.len()).collect();
    if !too_many.is_empty() {
        println!("left out: {too_many:?} labels (not fewer than the {} photos)", labels.len());
    }
    let bar = ProgressBar::new_spinner();
    let rows = learn::compare_finetune(
        &photosift::model::WeightsSource::from_config(&config.model.weights),
        &images,
        &labels,
        &args.finetune_compare,
        args.compare_runs,
        &learn::FinetuneSettings::from_config(&config.train),
        TrainSettings { l2: config.train.l2 },
        &|what| {
            bar.set_message(what.to_owned());
            bar.tick();
        },
    )?;
    bar.finish_and_clear();
    print!("{}", learn::compare_table(&rows));
    Ok(())
}

#[cfg(test)]
mod tests {
    use photosift::catalog::{Catalog, NewModel, NewPhoto};
    use photosift::model::BACKBONE_ID;

    use super::*;

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
            kind: "head".into(),
            n_positive: 1,
            n_negative: 1,
            n_synthetic: 0,
            cv_auc: None,
            params: Vec::new(),
            info: "{}".into(),
        }
    }

    #[test]
    fn an_upgraded_library_moves_to_the_photo_features_once_they_exist() {
        let mut cat = catalog(2);
        let ids: Vec<_> = cat.photos().unwrap().into_iter().map(|p| p.id).collect();
        let old: Vec<_> = ids.iter().map(|&id| (id, vec![1.0, 0.0])).collect();
        cat.put_embeddings(OLD_BACKBONE_ID, &old).unwrap();
        cat.insert_model(&model(OLD_BACKBONE_ID), &[]).unwrap();
        // Before the new features are computed, the old embeddings are all there is.
        assert_eq!(current_backbone(&cat).unwrap(), OLD_BACKBONE_ID);
        let new: Vec<_> = ids.iter().map(|&id| (id, vec![0.5; 4])).collect();
        cat.put_embeddings(BACKBONE_ID, &new).unwrap();
        assert_eq!(current_backbone(&cat).unwrap(), BACKBONE_ID);
        // A fine-tuned version, once embedded, is trained on.
        cat.put_embeddings("lite0-ft-2", &new).unwrap();
        cat.insert_model(&model("lite0-ft-2"), &[]).unwrap();
        assert_eq!(current_backbone(&cat).unwrap(), "lite0-ft-2");
    }
}
