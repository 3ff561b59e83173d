//! Times `entire/detect` on a generated series, for tests/bench/anomaly_bench.py:
//! `anomaly_points <sr|seasonal> <points> <repeat>` prints one JSON line with the points judged per
//! second and the anomalies found (so the benchmark can check both sides agree).

use std::time::Instant;

use cogway_decision::anomaly::detect;
use cogway_decision::anomaly::grid::Series;
use cogway_decision::anomaly::options::{DetectOptions, Granularity, ImputeMode};

/// The benchmark's series (the Python side builds the same): a cycle of `period` points, a slow
/// rise, integer-hash jitter and a spike every 997 points.
fn series(points: usize, period: usize) -> Vec<f64> {
    (0..points)
        .map(|i| {
            let x = i as f64;
            let cycle = if period > 0 { 10.0 * (2.0 * std::f64::consts::PI * x / period as f64).sin() } else { 0.0 };
            let jitter = ((i * 7919) % 101) as f64 / 25.0 - 2.0;
            let spike = if i % 997 == 500 { 40.0 } else { 0.0 };
            100.0 + 0.001 * x + cycle + jitter + spike
        })
        .collect()
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: anomaly_points <sr|seasonal> <points> <repeat>";
    let (model, points, repeat) = match args.as_slice() {
        [_, model, points, repeat] => {
            (model.as_str(), points.parse::<usize>().map_err(|_| usage)?, repeat.parse::<usize>().map_err(|_| usage)?)
        }
        _ => return Err(usage.into()),
    };
    let (granularity, period) = match model {
        "sr" => (Granularity::Minutely, 0),
        "seasonal" => (Granularity::Hourly, 24),
        _ => return Err(usage.into()),
    };
    let options = DetectOptions {
        series: Series::contiguous(series(points, period)),
        granularity,
        custom_interval: 1,
        period: Some(period),
        max_anomaly_ratio: 0.25,
        sensitivity: 99,
        impute: ImputeMode::Auto,
    };
    let first = detect::entire(&options);
    let started = Instant::now();
    for _ in 0..repeat {
        std::hint::black_box(detect::entire(&options));
    }
    let seconds = started.elapsed().as_secs_f64();
    let anomalies: Vec<usize> = (0..points).filter(|&i| first.is_anomaly[i]).collect();
    println!(
        "{{\"points_per_s\": {}, \"seconds\": {seconds}, \"anomalies\": {anomalies:?}}}",
        (points * repeat) as f64 / seconds
    );
    Ok(())
}
