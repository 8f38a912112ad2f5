//! The app's metrics (the `metrics` feature): the recorder the
//! `metrics_path` needs, installed before anything starts; the endpoint's
//! renderer; and the publication every second (see `crate::metrics`).

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use crate::app::books::Books;
use crate::config::Config;
use crate::error::Error;
#[cfg(feature = "prometheus")]
use crate::serve::exposition::Exposition;

/// How often the figures are published to the recorder between scrapes.
pub(crate) const PUBLICATION_INTERVAL: Duration = Duration::from_secs(1);

/// The app's metrics, from the start until the books exist.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// The books the endpoint publishes from, once they exist.
    books: Arc<OnceLock<Weak<Books>>>,
    #[cfg(feature = "prometheus")]
    exposition: Option<Arc<Exposition>>,
}

impl Metrics {
    /// Installs the Prometheus recorder if the app serves a `metrics_path`.
    pub(crate) fn start(config: &Config) -> Result<Self, Error> {
        let books: Arc<OnceLock<Weak<Books>>> = Arc::new(OnceLock::new());
        #[cfg(feature = "prometheus")]
        let exposition = match &config.metrics_path {
            None => None,
            Some(path) => {
                let handle = crate::metrics::prometheus::install()?;
                let from = Arc::clone(&books);
                Some(Arc::new(Exposition::new(path, move || {
                    if let Some(books) = from.get().and_then(Weak::upgrade) {
                        books.publish_metrics();
                    }
                    handle.run_upkeep();
                    handle.render()
                })))
            }
        };
        #[cfg(not(feature = "prometheus"))]
        let _ = config;
        Ok(Metrics {
            books,
            #[cfg(feature = "prometheus")]
            exposition,
        })
    }

    /// The endpoint every server answers, if the app serves one.
    #[cfg(feature = "prometheus")]
    pub(crate) fn exposition(&self) -> Option<Arc<Exposition>> {
        self.exposition.clone()
    }

    /// Publishes from `books` at every scrape, and every
    /// [`PUBLICATION_INTERVAL`] until the report is final (its last
    /// publication is the shutdown's own, before the report hook).
    pub(crate) fn publish_from(&self, books: &Arc<Books>) {
        let _ = self.books.set(Arc::downgrade(books));
        crate::metrics::describe();
        books.publish_metrics();
        let books = Arc::downgrade(books);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PUBLICATION_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(books) = books.upgrade() else {
                    return;
                };
                if books.is_final() {
                    return;
                }
                books.publish_metrics();
            }
        });
    }
}
