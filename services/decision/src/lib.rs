//! Cogway's Decision services (issue 17): anomaly detection on time series. Knows nothing of HTTP.

pub mod anomaly;
