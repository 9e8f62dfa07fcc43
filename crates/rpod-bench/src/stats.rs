//! Medians and spreads of repeated measurements.

use serde::Serialize;

/// Summary of one contender's samples in one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub samples: Vec<f64>,
    pub median: f64,
    /// Interquartile range (75th minus 25th percentile).
    pub iqr: f64,
    pub min: f64,
    pub max: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = p * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}

pub fn summarize(samples: &[f64]) -> Summary {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    Summary {
        samples: samples.to_vec(),
        median: percentile(&sorted, 0.5),
        iqr: percentile(&sorted, 0.75) - percentile(&sorted, 0.25),
        min: sorted.first().copied().unwrap_or(f64::NAN),
        max: sorted.last().copied().unwrap_or(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_iqr() {
        let s = summarize(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.iqr, 2.0);
        assert_eq!((s.min, s.max), (1.0, 5.0));
        let even = summarize(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(even.median, 2.5);
    }
}
