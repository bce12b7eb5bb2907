//! The label log: decisions append events, undo marks the newest decision's events undone.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Catalog, Result, now_ms};
use crate::domain::{Decision, DecisionMode, LabelEvent, LabelKind, LabelValue, PhotoId};

/// A text column read back as one of our enums; anything else is a damaged row.
fn parse_column<T>(
    row: &rusqlite::Row<'_>,
    column: usize,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(
            column,
            format!("{what} {text:?}"),
            rusqlite::types::Type::Text,
        )
    })
}

/// Counts of current labels, for the status bar and model records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelCounts {
    pub kind_yes: u64,
    pub kind_no: u64,
    pub kind_skip: u64,
    pub picked: u64,
    pub passed: u64,
}

impl Catalog {
    /// Appends several decisions (one per photo) as one batch in one transaction: one keystroke
    /// that decides several photos (passing the rest of a burst) is written, and undone, as one.
    pub fn record_decisions(&mut self, decisions: &[Decision]) -> Result<i64> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let batch: i64 =
            tx.query_row("SELECT COALESCE(MAX(batch), 0) + 1 FROM label_events", [], |r| r.get(0))?;
        let at = now_ms();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO label_events (batch, photo_id, kind, value, mode, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for decision in decisions {
                for e in &decision.events {
                    insert.execute(params![
                        batch,
                        decision.photo.0,
                        e.kind.as_str(),
                        e.value.as_i64(),
                        decision.mode.as_str(),
                        at
                    ])?;
                }
            }
        }
        tx.commit()?;
        Ok(batch)
    }

    /// Marks the newest batch that is not undone as undone (only among `mode`'s when given)
    /// and returns its decisions in the order they were made; empty when there was none.
    pub fn undo_last_batch(&mut self, mode: Option<DecisionMode>) -> Result<Vec<Decision>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let batch: Option<i64> = tx
            .query_row(
                "SELECT MAX(batch) FROM label_events
                 WHERE undone = 0 AND (?1 IS NULL OR mode = ?1)",
                [mode.map(DecisionMode::as_str)],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let Some(batch) = batch else { return Ok(Vec::new()) };
        let decisions = {
            let mut stmt = tx.prepare(
                "SELECT photo_id, mode, kind, value FROM label_events WHERE batch = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([batch], |r| {
                Ok((
                    PhotoId(r.get(0)?),
                    parse_column(r, 1, DecisionMode::parse, "decision mode")?,
                    LabelEvent {
                        kind: parse_column(r, 2, LabelKind::parse, "label kind")?,
                        value: LabelValue::from_i64(r.get(3)?),
                    },
                ))
            })?;
            let mut decisions: Vec<Decision> = Vec::new();
            for row in rows {
                let (photo, mode, event) = row?;
                match decisions.last_mut() {
                    Some(d) if d.photo == photo => d.events.push(event),
                    _ => decisions.push(Decision { photo, mode, events: vec![event] }),
                }
            }
            decisions
        };
        tx.execute("UPDATE label_events SET undone = 1 WHERE batch = ?1", [batch])?;
        tx.commit()?;
        Ok(decisions)
    }

    /// The current label of every photo that has one of `kind` (skips included).
    pub fn current_labels(&self, kind: LabelKind) -> Result<Vec<(PhotoId, LabelValue)>> {
        // The newest event that is not undone wins; ids grow with time.
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.photo_id, e.value FROM label_events e
             JOIN (SELECT photo_id, MAX(id) AS id FROM label_events
                   WHERE kind = ?1 AND undone = 0 GROUP BY photo_id) newest ON newest.id = e.id
             ORDER BY e.photo_id",
        )?;
        let rows = stmt.query_map([kind.as_str()], |r| {
            Ok((PhotoId(r.get(0)?), LabelValue::from_i64(r.get(1)?)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn label_counts(&self) -> Result<LabelCounts> {
        let mut counts = LabelCounts::default();
        for (_, v) in self.current_labels(LabelKind::Kind)? {
            match v {
                LabelValue::Yes => counts.kind_yes += 1,
                LabelValue::No => counts.kind_no += 1,
                LabelValue::Skip => counts.kind_skip += 1,
            }
        }
        for (_, v) in self.current_labels(LabelKind::Print)? {
            match v {
                LabelValue::Yes => counts.picked += 1,
                LabelValue::No => counts.passed += 1,
                LabelValue::Skip => {}
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::catalog::test_catalog_with_photos as catalog_with_photos;

    #[test]
    fn relabeling_keeps_history_and_newest_wins() {
        let mut cat = catalog_with_photos(2);
        let p = PhotoId(1);
        cat.record_decisions(&[Decision::single(
            p,
            DecisionMode::Ambiguous,
            LabelKind::Kind,
            LabelValue::Yes,
        )])
        .unwrap();
        cat.record_decisions(&[Decision::single(
            p,
            DecisionMode::Ambiguous,
            LabelKind::Kind,
            LabelValue::No,
        )])
        .unwrap();
        assert_eq!(cat.current_labels(LabelKind::Kind).unwrap(), vec![(p, LabelValue::No)]);
        let n: i64 =
            cat.conn().query_row("SELECT count(*) FROM label_events", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn undo_restores_previous_label_and_is_multi_level() {
        let mut cat = catalog_with_photos(2);
        let (a, b) = (PhotoId(1), PhotoId(2));
        cat.record_decisions(&[Decision::single(
            a,
            DecisionMode::Ambiguous,
            LabelKind::Kind,
            LabelValue::Yes,
        )])
        .unwrap();
        cat.record_decisions(&[Decision {
            photo: b,
            mode: DecisionMode::Best,
            events: vec![
                LabelEvent { kind: LabelKind::Kind, value: LabelValue::No },
                LabelEvent { kind: LabelKind::Print, value: LabelValue::No },
            ],
        }])
        .unwrap();
        let undone = cat.undo_last_batch(None).unwrap().remove(0);
        assert_eq!(undone.photo, b);
        assert_eq!(undone.events.len(), 2);
        assert_eq!(cat.current_labels(LabelKind::Kind).unwrap(), vec![(a, LabelValue::Yes)]);
        assert!(cat.current_labels(LabelKind::Print).unwrap().is_empty());
        assert_eq!(cat.undo_last_batch(None).unwrap().remove(0).photo, a);
        assert!(cat.undo_last_batch(None).unwrap().is_empty());
    }

    #[test]
    fn undo_can_be_limited_to_one_mode() {
        let mut cat = catalog_with_photos(2);
        cat.record_decisions(&[Decision::single(
            PhotoId(1),
            DecisionMode::Ambiguous,
            LabelKind::Kind,
            LabelValue::Yes,
        )])
        .unwrap();
        cat.record_decisions(&[Decision::single(
            PhotoId(2),
            DecisionMode::Best,
            LabelKind::Print,
            LabelValue::Yes,
        )])
        .unwrap();
        let undone = cat.undo_last_batch(Some(DecisionMode::Ambiguous)).unwrap().remove(0);
        assert_eq!(undone.photo, PhotoId(1));
        assert_eq!(cat.label_counts().unwrap().picked, 1);
    }

    #[test]
    fn a_batch_of_decisions_is_one_transaction_and_one_undo() {
        let mut cat = catalog_with_photos(4);
        cat.record_decisions(&[Decision::single(
            PhotoId(1),
            DecisionMode::Best,
            LabelKind::Print,
            LabelValue::Yes,
        )])
        .unwrap();
        let pass =
            |p| Decision::single(PhotoId(p), DecisionMode::Best, LabelKind::Print, LabelValue::No);
        cat.record_decisions(&[pass(2), pass(3)]).unwrap();
        assert_eq!(cat.label_counts().unwrap().passed, 2);
        let undone = cat.undo_last_batch(Some(DecisionMode::Best)).unwrap();
        assert_eq!(
            undone.iter().map(|d| d.photo).collect::<Vec<_>>(),
            vec![PhotoId(2), PhotoId(3)]
        );
        let counts = cat.label_counts().unwrap();
        assert_eq!((counts.picked, counts.passed), (1, 0), "the pick before stays");
        assert_eq!(cat.undo_last_batch(Some(DecisionMode::Best)).unwrap().len(), 1);
        assert!(cat.undo_last_batch(Some(DecisionMode::Best)).unwrap().is_empty());
    }
}
