//! What `photosift eval` reads and writes around the simulation: the truth file and its
//! matching to catalog photos, the text table and the JSON report.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::eval::{Evaluation, Stats};
use crate::domain::PhotoId;

/// The AUC targets "reaches X after N answers" is reported for.
pub const TARGETS: [f64; 2] = [0.9, 0.95];

/// Label counts the text table shows (the JSON has every checkpoint).
const TABLE_ROWS: [usize; 14] = [0, 3, 5, 8, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200];

/// The evaluation as text: a row per checkpoint of [`TABLE_ROWS`], the mean AUC on the test
/// split with its range over the runs and the mean precision@K per strategy; then when each
/// strategy's mean AUC stays above each target, the first "yes", and the ceiling.
pub fn table(e: &Evaluation) -> String {
    let mut out = String::new();
    let _ = write!(out, "{:>6}", "labels");
    for c in &e.curves {
        let _ = write!(out, " | {:>10} AUC [min-max]    P@{:<3}", c.strategy.name(), e.precision_k);
    }
    out.push('\n');
    let fmt = |v: Option<f64>| v.map_or("    -".to_owned(), |v| format!("{v:.3}"));
    let Some(first) = e.curves.first() else { return out };
    let last = first.points.last().map_or(0, |p| p.labels);
    for (r, point) in first.points.iter().enumerate() {
        if !TABLE_ROWS.contains(&point.labels) && point.labels != last {
            continue;
        }
        let _ = write!(out, "{:>6}", point.labels);
        for c in &e.curves {
            let range =
                match (c.auc_min.get(r).copied().flatten(), c.auc_max.get(r).copied().flatten()) {
                    (Some(lo), Some(hi)) => format!("[{lo:.2}-{hi:.2}]"),
                    _ => "      -    ".to_owned(),
                };
            let p = c.points.get(r);
            let _ = write!(
                out,
                " | {:>14} {range} {:>5}",
                fmt(p.and_then(|p| p.auc)),
                fmt(p.and_then(|p| p.precision))
            );
        }
        out.push('\n');
    }
    for c in &e.curves {
        let reach: Vec<String> = TARGETS
            .iter()
            .map(|&t| {
                let n = c.labels_to_reach(t).map_or("not reached".to_owned(), |l| format!("{l}"));
                format!("AUC >= {t} from {n}")
            })
            .collect();
        let first: Vec<f64> =
            c.first_yes.iter().map(|f| f.map_or(f64::NAN, |v| v as f64)).collect();
        let fy = Stats::of(&first)
            .filter(|s| s.mean.is_finite())
            .map_or("a \"yes\" never asked in some run".to_owned(), |s| {
                format!("first \"yes\" after {:.1} answers (max {:.0})", s.mean, s.max)
            });
        let prop = if c.propagated > 0 {
            format!("; {} labels propagated to near-duplicates", c.propagated)
        } else {
            String::new()
        };
        let _ = writeln!(out, "{:>10}: {}; {fy}{prop}", c.strategy.name(), reach.join(", "));
    }
    let _ = writeln!(
        out,
        "   ceiling: {} (cross-validated AUC with every label known)",
        e.ceiling.map_or("-".to_owned(), |s| format!("{:.3} (sd {:.3})", s.mean, s.sd))
    );
    out
}

/// The evaluation as JSON: `{"photos","positives","runs","ceiling_auc","strategies":{name:
/// {"labels","auc_mean","auc_min","auc_max","precision_at_k_mean","labels_to_auc":{"0.9",
/// "0.95"}, "auc_runs" (per checkpoint, every run's AUC), ...}}, ...}`; a value that does not
/// exist (no model yet) is `null`.
pub fn json(e: &Evaluation) -> Value {
    let mut strategies = serde_json::Map::new();
    for c in &e.curves {
        let labels_to: serde_json::Map<String, Value> =
            TARGETS.iter().map(|&t| (format!("{t}"), json!(c.labels_to_reach(t)))).collect();
        let first: Vec<f64> = c.first_yes.iter().filter_map(|f| f.map(|v| v as f64)).collect();
        let first_stats = Stats::of(&first);
        strategies.insert(
            c.strategy.name().to_owned(),
            json!({
                "labels": c.points.iter().map(|p| p.labels).collect::<Vec<_>>(),
                "auc_mean": c.points.iter().map(|p| p.auc).collect::<Vec<_>>(),
                "auc_min": c.auc_min,
                "auc_max": c.auc_max,
                "auc_sd": c.auc_sd,
                "auc_runs": c.auc_runs,
                "precision_at_k_mean": c.points.iter().map(|p| p.precision).collect::<Vec<_>>(),
                "labels_to_auc": labels_to,
                "first_yes": c.first_yes,
                "first_yes_mean": first_stats.map(|s| s.mean),
                "first_yes_max": first_stats.map(|s| s.max),
                "propagated": c.propagated,
            }),
        );
    }
    json!({
        "photos": e.photos,
        "positives": e.positives,
        "runs": e.runs,
        "ceiling_auc": e.ceiling.map(|s| s.mean),
        "ceiling_auc_sd": e.ceiling.map(|s| s.sd),
        "test_photos": e.test_photos,
        "retrain_every": e.retrain_every,
        "examples": e.examples,
        "precision_k": e.precision_k,
        "strategies": strategies,
    })
}

/// Reads a truth file: `file,label` rows (1/0, yes/no, true/false); any header line (such
/// as coco-dev's `file,person`) is skipped, and only the first two columns are read.
pub fn parse_truth(text: &str) -> Result<Vec<(String, bool)>, String> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split(',').map(str::trim);
        let (Some(file), Some(label)) = (cols.next(), cols.next()) else {
            return Err(format!("line {}: expected `file,label`, found {line:?}", n + 1));
        };
        let label = match label.to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "y" => true,
            "0" | "no" | "false" | "n" => false,
            _ if rows.is_empty() => continue, // the header
            other => return Err(format!("line {}: label {other:?} is not 1 or 0", n + 1)),
        };
        rows.push((file.to_owned(), label));
    }
    Ok(rows)
}

/// Pairs catalog photos (`(id, path)`) with truth rows: a row naming a relative path matches
/// a photo whose path ends with it, a bare name matches the photo's file name. Photos are
/// looked up by file name in a map (one pass over the catalog, not one per row). Returns the
/// matched (photo id, label) pairs and the rows that matched nothing.
pub fn match_truth(
    photos: &[(PhotoId, PathBuf)],
    truth: &[(String, bool)],
) -> (Vec<(PhotoId, bool)>, Vec<String>) {
    let mut by_name: HashMap<OsString, Vec<(PhotoId, &Path)>> = HashMap::new();
    for (id, path) in photos {
        if let Some(name) = path.file_name() {
            by_name.entry(name.to_owned()).or_default().push((*id, path));
        }
    }
    let mut matched = Vec::new();
    let mut unmatched = Vec::new();
    for (file, label) in truth {
        let rel = Path::new(file);
        let found = rel
            .file_name()
            .and_then(|name| by_name.get(name))
            .and_then(|same| same.iter().find(|(_, path)| path.ends_with(rel)));
        match found {
            Some((id, _)) => matched.push((*id, *label)),
            None => unmatched.push(file.clone()),
        }
    }
    (matched, unmatched)
}
