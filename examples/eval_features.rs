//! `photosift eval`'s simulation on feature rows computed elsewhere (a candidate backbone in
//! PyTorch: `tools/loop_features.py`): the same head, queues, test splits, runs and ceiling as
//! `photosift eval` ([`eval::evaluate`] with the default config), so that a feature is judged
//! by the loop the user gets before it is built into the product (docs/bench-learn.md, "Lite1
//! in the loop").
//!
//! ```text
//! cargo run --release --example eval_features -- FEATURES.f32 FILES.txt TRUTH.csv [OUT.json]
//! ```
//! FEATURES.f32: one row per line of FILES.txt, little-endian f32, as photosift stores an
//! embedding; TRUTH.csv: `file,label` (photos it does not name are left out), rows taken in its
//! order. The features come from another implementation and the rows may be in another order
//! than the catalog's, so the figures are not `photosift eval`'s to the last decimal: compare
//! feature files with this program, not with `photosift eval`. Capture times are unknown
//! (every photo its own burst). 30 runs, up to 60 answers.

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use anyhow::{Context, Result, bail};
use photosift::config::Config;
use photosift::learn::{TrainSettings, eval, eval_report};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        bail!("usage: eval_features FEATURES.f32 FILES.txt TRUTH.csv [OUT.json]");
    }
    let bytes = std::fs::read(&args[0]).with_context(|| format!("cannot read {}", args[0]))?;
    let all: Vec<f32> =
        bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let files: Vec<String> = std::fs::read_to_string(&args[1])
        .with_context(|| format!("cannot read {}", args[1]))?
        .lines()
        .map(str::to_owned)
        .collect();
    if files.is_empty() || all.is_empty() || !all.len().is_multiple_of(files.len()) {
        bail!("{} holds {} floats: not one row per line of {}", args[0], all.len(), args[1]);
    }
    let dim = all.len() / files.len();
    let truth = photosift::pipeline::eval::read_truth(std::path::Path::new(&args[2]))?;
    let row_of: std::collections::HashMap<&str, usize> =
        files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
    let (mut data, mut labels) = (Vec::new(), Vec::new());
    for (file, label) in &truth {
        if let Some(&r) = row_of.get(file.as_str()) {
            data.extend_from_slice(&all[r * dim..(r + 1) * dim]);
            labels.push(*label);
        }
    }
    let config = Config::default();
    let cfg = eval::SimConfig {
        retrain_every: config.train.retrain_every.max(1) as usize,
        max_labels: 60,
        precision_k: 10,
        runs: 30,
        examples: 0,
        example_weight: config.train.synthetic_weight,
        propagate: false,
        lookahead: true,
        settings: TrainSettings { l2: config.train.l2 },
        queue: config.queue.clone(),
    };
    let taken_at = vec![None; labels.len()];
    let evaluation = eval::evaluate(&data, dim, &labels, &taken_at, &cfg, &|_| {})?;
    print!("{}", eval_report::table(&evaluation));
    if let Some(path) = args.get(3) {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&eval_report::json(&evaluation))? + "\n",
        )?;
    }
    Ok(())
}
