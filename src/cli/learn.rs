//! The `train`, `score`, `queue` and `eval` subcommands at the terminal: arguments, progress
//! bars and the printing of the pipeline's reports.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use photosift::config::Config;
use photosift::learn::{self, eval_report};
use photosift::library::Library;
use photosift::pipeline::eval::{Comparison, EvalEvent, EvalOutcome, EvalRequest, Simulation};
use photosift::pipeline::queues::{self, Listed};
use photosift::pipeline::{self, Retrained};

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
    /// The backbone to embed the photos with: "lite0" or "clip-b32". Default: `[embed]
    /// backbone`. (The simulation trains the head on its embeddings, as for Lite0; the prompts'
    /// zero-shot start is not part of it.)
    #[arg(long, value_name = "NAME")]
    pub backbone: Option<photosift::config::Backbone>,
    /// CLIP's weights: a folder from `huggingface-cli download openai/clip-vit-base-patch32
    /// --revision refs/pr/15 --local-dir DIR` (sets `[embed] weights_dir`).
    #[arg(long, value_name = "DIR")]
    pub clip_weights: Option<PathBuf>,
}

fn percent_bar() -> ProgressBar {
    let bar = ProgressBar::new(100);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos:>3}% {msg}") {
        bar.set_style(style);
    }
    bar
}

pub fn train(config: &Config, library: &Library, finetune: bool) -> Result<()> {
    let bar = percent_bar();
    let progress = |f: f32, what: &str| {
        bar.set_position((f * 100.0) as u64);
        bar.set_message(what.to_owned());
    };
    let retrained = pipeline::retrain(library, config, finetune, &Default::default(), &progress)?;
    bar.finish_and_clear();
    if let Retrained::Finetuned(ft) = &retrained {
        let loss: Vec<String> = ft.epoch_loss.iter().map(|l| format!("{l:.3}")).collect();
        say!(
            "fine-tuned backbone {} on {} labeled images x {} views in {:.1} s (loss per epoch: {}); \
             weights {}",
            ft.backbone,
            ft.n_images,
            ft.views,
            ft.finetune_ms / 1000.0,
            loss.join(" "),
            photosift::show::path(&ft.weights)
        );
        say!("embedded {} photos with it in {:.1} s", ft.embedded, ft.embed_ms / 1000.0);
        if ft.n_unreadable > 0 {
            say!("{} labeled photos have no readable thumbnail and were left out", ft.n_unreadable);
        }
        say!(
            "note: the cross-validated AUC below is optimistic: the backbone was tuned on the \
             same labels"
        );
    }
    let report = retrained.train();
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
    if let Some(note) = &report.note {
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
    let which = match mode {
        QueueMode::Ambiguous => Listed::Ambiguous,
        QueueMode::Best => Listed::Best,
    };
    let Some(rows) = queues::listing(&catalog, config, which, n)? else {
        // Best-first orders by the model's scores: nothing to print before there is one.
        note!(
            "no model yet, so no best-first order: label some photos (photosift label), then \
             run `photosift train`"
        );
        return Ok(());
    };
    if rows.is_empty() {
        // Nothing printed on stdout; say why on stderr.
        note!("{}", empty_queue_reason(which, config));
        return Ok(());
    }
    // One photo per record: escaped on one line, or raw and NUL-terminated for scripts.
    #[allow(clippy::disallowed_methods, reason = "--null writes raw paths for `xargs -0`")]
    let mut raw = null.then(|| std::io::stdout().lock());
    for row in rows {
        let mut fields = row.p.map_or("-".to_owned(), |p| format!("{p:.3}")) + "\t";
        if let Some(group) = row.group {
            fields += &format!("{group}\t");
        }
        match &mut raw {
            // The one output that is not escaped, on purpose: scripts need the exact bytes,
            // and NUL (which no path holds) ends each record, so a newline or an escape in
            // a name cannot be taken for anything else. Not for a terminal.
            Some(out) => {
                out.write_all(fields.as_bytes())?;
                out.write_all(row.path.as_os_str().as_bytes())?;
                out.write_all(b"\0")?;
            }
            None => say!("{fields}{}", photosift::show::path(&row.path)),
        }
    }
    Ok(())
}

impl EvalArgs {
    fn request(&self) -> EvalRequest {
        EvalRequest {
            truth: self.truth.clone(),
            dir: self.dir.clone(),
            every: self.every,
            max_labels: self.max_labels,
            k: self.k,
            runs: self.runs,
            examples: self.examples,
            propagate: self.propagate,
            lookahead: !self.no_lookahead,
            json: self.json.clone(),
            plot: self.plot.clone(),
            finetune_compare: self.finetune_compare.clone(),
            compare_runs: self.compare_runs,
        }
    }
}

/// `photosift eval --truth CSV DIR`: scans DIR into a temporary library, embeds it, and runs
/// the simulation (or the fine-tuning comparison) on the photos the truth file names.
pub fn eval_dir(config: &Config, args: &EvalArgs) -> Result<()> {
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("scanning {}", photosift::show::path(&args.dir)));
    let mut config = config.clone();
    if let Some(backbone) = args.backbone {
        config.embed.backbone = backbone;
    }
    if let Some(dir) = &args.clip_weights {
        config.embed.weights_dir = photosift::config::expand_path(dir)?;
    }
    let config = &config;
    let outcome = pipeline::eval::evaluate_dir(config, &args.request(), &|event| {
        match event {
            EvalEvent::Scanning { done, total } => {
                bar.set_message(format!("scanning: {done}/{total}"))
            }
            EvalEvent::Embedding { done, total } => {
                bar.set_message(format!("embedding: {done}/{total}"))
            }
            EvalEvent::Working(what) => bar.set_message(what),
        }
        bar.tick();
    })?;
    bar.finish_and_clear();
    match outcome {
        EvalOutcome::Simulation(sim) => print_simulation(&sim),
        EvalOutcome::Comparison(cmp) => print_comparison(&cmp, args.compare_runs),
    }
    Ok(())
}

fn print_simulation(sim: &Simulation) {
    let (e, cfg) = (&sim.evaluation, &sim.config);
    if let Some(first) = sim.unmatched.first() {
        note!(
            "{} truth rows match no scanned photo (e.g. {}); they are left out",
            sim.unmatched.len(),
            photosift::show::text(first)
        );
    }
    say!(
        "{} photos ({} desirable); {} runs, each testing on its own stratified third ({} photos) \
         that no strategy asks about; retrain every {} answers, up to {} answers{}{}",
        e.photos,
        e.positives,
        e.runs,
        e.test_photos,
        e.retrain_every,
        cfg.max_labels,
        if e.examples > 0 { format!(", {} example photos", e.examples) } else { String::new() },
        if cfg.lookahead { "" } else { "; ambiguous queue without the look-ahead" }
    );
    super::out::stdout_text(&eval_report::table(e));
    if let Some(path) = &sim.json {
        say!("json: {}", photosift::show::path(path));
    }
    say!("plot: {}", photosift::show::path(&sim.plot));
}

fn print_comparison(cmp: &Comparison, runs: usize) {
    say!(
        "{} photos ({} desirable); {runs} random labeled subsets per count; fine-tuning from \
         stage {}, {} epochs, {} views per image",
        cmp.photos,
        cmp.positives,
        cmp.settings.from_stage,
        cmp.settings.epochs,
        cmp.settings.views
    );
    if !cmp.skipped.is_empty() {
        say!("left out: {:?} labels (not fewer than the {} photos)", cmp.skipped, cmp.photos);
    }
    super::out::stdout_text(&learn::compare_table(&cmp.rows));
}

/// Why a queue has nothing in it.
fn empty_queue_reason(which: Listed, config: &Config) -> String {
    match which {
        Listed::Ambiguous => "the ambiguous queue is empty: every photo has an answer (or none \
                              is scanned yet: `photosift scan DIR`)"
            .to_owned(),
        Listed::Best => format!(
            "the best-first queue is empty: no undecided photo scores above [queue] \
             best_threshold = {} (every such photo is picked or passed, or the model ranks none \
             that high: answer more in `photosift label`, then retrain)",
            config.queue.best_threshold
        ),
    }
}
