//! The Prometheus exposition (the `prometheus` feature): the recorder of
//! `metrics-exporter-prometheus`, installed for the process, rendered at
//! each scrape of the `metrics_path`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::Error;
use crate::serve::accounts::durations;
use graceful_values::settings;

/// The recorder's handle, once installed: an app started again in the same
/// process renders from the same recorder.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder for the process, unless it is already;
/// fails if a recorder of another kind is.
pub(crate) fn install() -> Result<PrometheusHandle, Error> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets_for_metric(
            Matcher::Full(super::names::REQUEST_DURATION.to_owned()),
            &durations::BOUNDS,
        )
        .map_err(|err| Error::Setting {
            setting: settings::METRICS_PATH.name.to_owned(),
            reason: err.to_string(),
        })?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| Error::Setting {
        setting: settings::METRICS_PATH.name.to_owned(),
        reason: "another metrics recorder is installed: export with it, or leave the recorder to graceful"
            .to_owned(),
    })?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}
