//! Univariate anomaly detection, the method Azure's Anomaly Detector describes (Ren et al.,
//! "Time-Series Anomaly Detection Service at Microsoft", KDD 2019): the series' period, and the
//! spectral residual saliency of each point.

pub mod period;
pub mod spectral_residual;
