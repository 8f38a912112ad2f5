//! The metrics endpoint (the `prometheus` feature and `metrics_path`): a
//! path every server answers itself, as it answers the health path, with
//! what the app renders.

use std::fmt;

/// Where the metrics are served, and what renders them: the app's, which
/// publishes its figures first.
pub(crate) struct Exposition {
    pub(crate) path: Box<str>,
    render: Box<dyn Fn() -> String + Send + Sync>,
}

impl Exposition {
    pub(crate) fn new(path: &str, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Exposition {
            path: path.into(),
            render: Box::new(render),
        }
    }

    /// The metrics, in Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        (self.render)()
    }
}

impl fmt::Debug for Exposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exposition")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
