//! The `netsweep compare` chart: wall time and devices/s against workers, a line per pool,
//! as SVG or PNG.
//!
//! Text is drawn with the DejaVu Sans font shipped in `crates/cli/assets` (its licence is
//! beside it), so the chart renders the same on a machine without fontconfig or any font.

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::compare::Row;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const SIZE: (u32, u32) = (1200, 520);

/// Refuses a chart path whose format we cannot write, before any sweep runs.
pub fn check_path(path: &Path) -> anyhow::Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("svg" | "png") => Ok(()),
        _ => bail!(
            "--chart {}: the file name must end in .svg or .png",
            path.display()
        ),
    }
}

/// Draws the chart for `rows` into `path`.
pub fn draw(path: &Path, rows: &[Row], devices: usize) -> anyhow::Result<()> {
    register_font()?;
    let context = || format!("cannot draw {}", path.display());
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => draw_on(
            &BitMapBackend::new(path, SIZE).into_drawing_area(),
            rows,
            devices,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(context),
        _ => draw_on(
            &SVGBackend::new(path, SIZE).into_drawing_area(),
            rows,
            devices,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(context),
    }
}

fn register_font() -> anyhow::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .map_err(|_| anyhow::anyhow!("the bundled font is unreadable"));
    });
    result
}

type DrawResult<B> = Result<(), DrawingAreaErrorKind<<B as DrawingBackend>::ErrorType>>;

fn draw_on<B: DrawingBackend>(
    root: &DrawingArea<B, Shift>,
    rows: &[Row],
    devices: usize,
) -> DrawResult<B> {
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!("netsweep compare: {devices} devices"),
        ("sans-serif", 24).into_font(),
    )?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    panel(&left, rows, "wall time (s)", |r| r.wall_s.median)?;
    panel(&right, rows, "devices / s", |r| r.devices_per_s)?;
    root.present()
}

/// One panel: `value` against workers (log scale), a line and points per pool.
fn panel<B: DrawingBackend>(
    area: &DrawingArea<B, Shift>,
    rows: &[Row],
    y_label: &str,
    value: impl Fn(&Row) -> f64,
) -> DrawResult<B> {
    let x_min = rows.iter().map(|r| r.workers).min().unwrap_or(1) as f64;
    let x_max = rows.iter().map(|r| r.workers).max().unwrap_or(1) as f64;
    let y_max = rows.iter().map(&value).fold(0.0, f64::max).max(1e-3) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(((x_min / 1.3)..(x_max * 1.3)).log_scale(), 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("workers")
        .y_desc(y_label)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    let pools: Vec<&str> = {
        let mut p: Vec<&str> = rows.iter().map(|r| r.pool).collect();
        p.dedup();
        p
    };
    for (i, pool) in pools.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.pool == *pool)
            .map(|r| (r.workers as f64, value(r)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))?
            .label(*pool)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 5, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
}
