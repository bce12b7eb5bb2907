//! The PNG of `photosift eval`: mean AUC on the test split and precision@K against
//! labels spent, one line per strategy.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::eval::{Checkpoint, Curve, Strategy};

const FONT: &[u8] = crate::assets::NOTO_MONO;
/// Registered under its own name: plotters' font table is process-wide.
const FONT_NAME: &str = "photosift-eval-mono";

#[derive(Debug, thiserror::Error)]
#[error("cannot draw the plot {path}: {message}")]
pub struct PlotError {
    path: String,
    message: String,
}

fn color(s: Strategy) -> RGBColor {
    match s {
        Strategy::Ambiguous => RGBColor(0x1f, 0x77, 0xb4),
        Strategy::Random => RGBColor(0x7f, 0x7f, 0x7f),
        Strategy::BestFirst => RGBColor(0xd6, 0x27, 0x28),
    }
}

/// Which value of a checkpoint a panel shows.
type Metric = fn(&Checkpoint) -> Option<f64>;

/// Draws both panels into a 1200x500 PNG at `path`.
pub fn draw(
    path: &Path,
    curves: &[Curve],
    precision_k: usize,
    title: &str,
) -> Result<(), PlotError> {
    let err = |e: &dyn std::fmt::Display| PlotError {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    plotters::style::register_font(FONT_NAME, FontStyle::Normal, FONT)
        .map_err(|_| err(&"the bundled font is not a valid font"))?;
    // Drawn into a buffer and encoded with the `image` crate (plotters' own file output
    // would pull in a second copy of the image stack).
    let (w, h) = (1200u32, 500u32);
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let root = root.titled(title, (FONT_NAME, 22)).map_err(|e| err(&e))?;
        let panels = root.split_evenly((1, 2));
        let max_labels =
            curves.iter().flat_map(|c| c.points.iter().map(|p| p.labels)).max().unwrap_or(1).max(1);
        let k_label = format!("precision@{precision_k} on the test split");
        let specs: [(&str, Metric); 2] =
            [("AUC on the test split (mean of the runs)", |p| p.auc), (&k_label, |p| p.precision)];
        for (area, (name, value)) in panels.iter().zip(specs) {
            let mut chart = ChartBuilder::on(area)
                .caption(name, (FONT_NAME, 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(0f64..max_labels as f64, 0f64..1.02f64)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc("labels spent")
                .label_style((FONT_NAME, 14))
                .axis_desc_style((FONT_NAME, 14))
                .draw()
                .map_err(|e| err(&e))?;
            for curve in curves {
                let c = color(curve.strategy);
                let pts: Vec<(f64, f64)> = curve
                    .points
                    .iter()
                    .filter_map(|p| Some((p.labels as f64, value(p)?)))
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                    .map_err(|e| err(&e))?
                    .label(curve.strategy.name())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .label_font((FONT_NAME, 14))
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    image::save_buffer(path, &pixels, w, h, image::ExtendedColorType::Rgb8).map_err(|e| err(&e))
}
