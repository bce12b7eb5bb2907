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
use photosift::pipeline::eval::{ScratchLibrary, ScratchProgress};
use photosift::pipeline::{self, require_backbone};
use photosift::queue;
use photosift::show;

use super::out::{note, say};

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
    /// Retrain after this many answers. Default: the TUI's `[train] retrain_every` (the
    /// automatic retrain), so the loop measured is the one the TUI runs.
    #[arg(long)]
    pub every: Option<usize>,
    /// Stop after this many answers.
    #[arg(long, default_value_t = 60)]
    pub max_labels: usize,
    /// K of precision@K (the top K of the test split by p).
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Runs to average: each holds out its own stratified test split (a third of the
    /// photos) that no strategy may ask about, and every strategy is scored on it. 30 by
    /// default: the mean of 10 runs of the ambiguous order at 20 answers was up to 0.022 off
    /// the mean of 30 (docs/bench-learn.md).
    #[arg(long, default_value_t = 30, alias = "random-runs")]
    pub runs: usize,
    /// Simulate `[seed] examples_want`: this many known desirable photos from outside the
    /// test split are given as example photos (weighted like seed images) from the start.
    #[arg(long, default_value_t = 0)]
    pub examples: usize,
    /// An answer also labels the photo's unasked near-duplicates (cosine at least `[queue]
    /// near_duplicate_cosine`): measures whether propagating answers saves labels.
    #[arg(long)]
    pub propagate: bool,
    /// Order the ambiguous queue by |p - 0.5| alone, without the model's look-ahead (which
    /// of the least sure photos would change the model most): measures what the look-ahead
    /// adds, run by run against a default evaluation.
    #[arg(long)]
    pub no_lookahead: bool,
    /// Also write the whole evaluation (every checkpoint, spread, ceiling) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
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
        let ft = pipeline::finetune_and_score(&mut catalog, library, config, &progress)?;
        bar.finish_and_clear();
        let loss: Vec<String> = ft.epoch_loss.iter().map(|l| format!("{l:.3}")).collect();
        say!(
            "fine-tuned backbone {} on {} labeled images x {} views in {:.1} s (loss per epoch: {}); \
             weights {}",
            ft.backbone,
            ft.n_images,
            ft.views,
            ft.finetune_ms / 1000.0,
            loss.join(" "),
            show::path(&ft.weights)
        );
        say!("embedded {} photos with it in {:.1} s", ft.embedded, ft.embed_ms / 1000.0);
        if ft.n_unreadable > 0 {
            say!("{} labeled photos have no readable thumbnail and were left out", ft.n_unreadable);
        }
        say!(
            "note: the cross-validated AUC below is optimistic: the backbone was tuned on the \
             same labels"
        );
        ft.train
    } else {
        let backbone = require_backbone(&catalog)?;
        let report = pipeline::train_and_score(&mut catalog, config, backbone.as_str(), &progress)?;
        bar.finish_and_clear();
        report
    };
    say!(
        "model {}: {} yes, {} no, {} seed images; cross-validated AUC {}",
        report.model.0,
        report.n_positive,
        report.n_negative,
        report.n_synthetic,
        report.cv_auc.map_or("- (too few labels)".to_owned(), |a| format!("{a:.3}")),
    );
    say!(
        "scored {} photos in {:.0} ms (read {:.0}, train {:.0}, score {:.0}, look-ahead {:.0}, \
         save {:.0})",
        report.scored,
        report.read_ms + report.train_ms + report.score_ms + report.ask_ms + report.write_ms,
        report.read_ms,
        report.train_ms,
        report.score_ms,
        report.ask_ms,
        report.write_ms
    );
    if report.n_unembedded > 0 {
        say!("{} labeled photos are not embedded yet and were left out", report.n_unembedded);
    }
    if let Some(note) = report.note {
        say!("note: {note}");
    }
    Ok(())
}

pub fn score(library: &Library) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    match pipeline::score_latest(&mut catalog)? {
        Some((model, n)) => say!("scored {n} photos with model {}", model.0),
        None => bail!("no model yet: label some photos and run `photosift train`"),
    }
    Ok(())
}

/// After a scan: the new photos get a score from the current model, so best mode and `queue`
/// see them without a retrain.
pub fn score_after_scan(library: &Library) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    if let Some((model, n)) = pipeline::score_latest(&mut catalog)? {
        say!("scored {n} photos with the current model v{} (new ones included)", model.0);
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
        note!(
            "no model yet, so no best-first order: label some photos (photosift label), then \
             run `photosift train`"
        );
        return Ok(());
    }
    let cands = pipeline::queues::candidates(&catalog, config, true)?;
    let p_of: std::collections::HashMap<_, _> = cands.iter().map(|c| (c.photo, c.p)).collect();
    let fmt_p = |p: Option<f32>| p.map_or("-".to_owned(), |p| format!("{p:.3}"));
    let path_of = |id| -> Result<std::path::PathBuf> {
        let photo = catalog.photo(id)?.context("a queued photo vanished from the catalog")?;
        Ok(photo.path)
    };
    // One photo per record: escaped on one line, or raw and NUL-terminated for scripts.
    #[allow(clippy::disallowed_methods, reason = "--null writes raw paths for `xargs -0`")]
    let mut raw = null.then(|| std::io::stdout().lock());
    let mut emit = |fields: String, path: std::path::PathBuf| -> Result<()> {
        use std::io::Write;
        use std::os::unix::ffi::OsStrExt;
        match &mut raw {
            // The one output that is not escaped, on purpose: scripts need the exact bytes,
            // and NUL (which no path holds) ends each record, so a newline or an escape in
            // a name cannot be taken for anything else. Not for a terminal.
            Some(out) => {
                out.write_all(fields.as_bytes())?;
                out.write_all(path.as_os_str().as_bytes())?;
                out.write_all(b"\0")?;
            }
            None => say!("{fields}{}", show::path(&path)),
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

/// Runs the oracle simulation on the truth's photos in `catalog` (scanned and embedded),
/// prints the table and writes the plot.
fn eval_catalog(
    config: &Config,
    catalog: &Catalog,
    truth: &[(String, bool)],
    args: &EvalArgs,
) -> Result<()> {
    let rows = pipeline::eval::truth_rows(catalog, truth)?;
    if !rows.unmatched.is_empty() {
        note!(
            "{} truth rows match no scanned photo (e.g. {}); they are left out",
            rows.unmatched.len(),
            show::text(&rows.unmatched[0])
        );
    }
    let (data, dim, labels, taken_at) = (rows.data, rows.dim, rows.labels, rows.taken_at);
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 || positives == labels.len() {
        bail!("the truth file needs both desirable and other photos among the embedded ones");
    }
    let every = eval_cadence(config, args)?;
    let cfg = eval::SimConfig {
        retrain_every: every,
        max_labels: args.max_labels,
        precision_k: args.k,
        runs: args.runs.max(1),
        examples: args.examples,
        example_weight: config.train.synthetic_weight,
        propagate: args.propagate,
        lookahead: !args.no_lookahead,
        settings: TrainSettings { l2: config.train.l2 },
        queue: config.queue.clone(),
    };
    let test_photos =
        eval::test_split(&labels, eval::TEST_FRACTION, 1).iter().filter(|&&h| h).count();
    say!(
        "{} photos ({} desirable); {} runs, each testing on its own stratified third ({} photos) \
         that no strategy asks about; retrain every {every} answers, up to {} answers{}{}",
        labels.len(),
        positives,
        cfg.runs,
        test_photos,
        args.max_labels,
        if args.examples > 0 {
            format!(", {} example photos", args.examples)
        } else {
            String::new()
        },
        if cfg.lookahead { "" } else { "; ambiguous queue without the look-ahead" }
    );
    let bar = ProgressBar::new_spinner();
    let evaluation = eval::evaluate(&data, dim, &labels, &taken_at, &cfg, &|what| {
        bar.set_message(what.to_owned());
        bar.tick();
    })?;
    bar.finish_and_clear();
    super::out::stdout_text(&eval::table(&evaluation));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&eval::json(&evaluation))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", show::path(path)))?;
        say!("json: {}", show::path(path));
    }
    let title = format!("photosift eval: {} photos, {positives} desirable", labels.len());
    learn::plot::draw(&args.plot, &evaluation.curves, args.k, &title)?;
    say!("plot: {}", show::path(&args.plot));
    Ok(())
}

/// How often the simulation retrains: `--every`, else the TUI's automatic cadence.
fn eval_cadence(config: &Config, args: &EvalArgs) -> Result<usize> {
    Ok(match args.every {
        Some(n) => n.max(1),
        None if config.train.retrain_every > 0 => config.train.retrain_every as usize,
        None => bail!(
            "[train] retrain_every = 0 (retrain only on R) has no cadence to simulate: pass \
             --every N"
        ),
    })
}

/// `photosift eval --truth CSV DIR`: scans DIR into a temporary library, embeds it, and runs
/// the simulation on the photos the truth file names.
pub fn eval_dir(config: &Config, args: &EvalArgs) -> Result<()> {
    if args.finetune_compare.is_empty() {
        eval_cadence(config, args)?;
    }
    let truth = pipeline::eval::read_truth(&args.truth)?;
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("scanning {}", show::path(&args.dir)));
    let scratch = pipeline::eval::scan_into_scratch(&args.dir, config, &|p| {
        match p {
            ScratchProgress::Scanning { done, total } => {
                bar.set_message(format!("scanning: {done}/{total}"))
            }
            ScratchProgress::Embedding { done, total } => {
                bar.set_message(format!("embedding: {done}/{total}"))
            }
        }
        bar.tick();
    })?;
    bar.finish_and_clear();
    if args.finetune_compare.is_empty() {
        eval_catalog(config, &scratch.catalog, &truth, args)
    } else {
        compare_catalog(config, &scratch, &truth, args)
    }
}

/// `eval --finetune-compare`: frozen head vs fine-tuning at fixed label counts on the photos
/// the truth file names.
fn compare_catalog(
    config: &Config,
    scratch: &ScratchLibrary,
    truth: &[(String, bool)],
    args: &EvalArgs,
) -> Result<()> {
    let (images, labels) =
        pipeline::eval::truth_thumbnails(&scratch.catalog, &scratch.library, truth)?;
    let positives = labels.iter().filter(|&&l| l).count();
    say!(
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
        say!("left out: {too_many:?} labels (not fewer than the {} photos)", labels.len());
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
    super::out::stdout_text(&learn::compare_table(&rows));
    Ok(())
}
