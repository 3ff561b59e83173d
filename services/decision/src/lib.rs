//! Cogway's Decision services (issue 17): anomaly detection on time series and the Personalizer contextual bandit. Knows nothing of HTTP.

pub mod anomaly;
pub mod personalizer;
pub mod safety;
