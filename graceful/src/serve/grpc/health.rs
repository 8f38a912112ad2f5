//! The gRPC health protocol (`grpc.health.v1.Health`, tonic-health's
//! service and messages), answered from the lifecycle rather than from
//! statuses someone must remember to set: `SERVING` while the app runs,
//! `NOT_SERVING` from the first signal on, and nothing can set it back.
//! A `Watch` stream hears the change, and ends when the drain begins, so
//! that it does not hold the drain.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{self, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::lifecycle::{Lifecycle, Phase};

/// The health protocol's service name.
pub(super) const NAME: &str = <HealthServer<Health> as tonic::server::NamedService>::NAME;

/// The health service of one server.
#[derive(Debug)]
pub(super) struct Health {
    lifecycle: Arc<Lifecycle>,
    /// The services it reports on, besides `""` (the whole server).
    services: Arc<[&'static str]>,
}

impl Health {
    pub(super) fn new(lifecycle: Arc<Lifecycle>, services: Vec<&'static str>) -> Self {
        Health {
            lifecycle,
            services: services.into(),
        }
    }

    /// As tonic serves it.
    pub(super) fn into_server(self) -> HealthServer<Self> {
        HealthServer::new(self)
    }

    fn knows(&self, service: &str) -> bool {
        service.is_empty() || self.services.contains(&service)
    }
}

/// Every known service's status: the lifecycle's. After a handover the
/// server stays `SERVING`: a successor serves the same address.
fn status(lifecycle: &Lifecycle) -> ServingStatus {
    if lifecycle.phase() == Phase::Running || lifecycle.is_handed_over() {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status.into(),
    }
}

/// What a `Watch` stream yields.
type Statuses = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

/// Where a `Watch` stream stands.
enum Watching {
    /// Its first message, the status now, is still to send.
    First { known: bool },
    /// Sent `SERVING`: waiting for the shutdown to begin, to say
    /// `NOT_SERVING`.
    Serving,
    /// Sent its last status: waiting for the drain to begin, to end.
    Last,
}

#[tonic::async_trait]
impl health_server::Health for Health {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        if !self.knows(&request.get_ref().service) {
            return Err(Status::not_found("service not registered"));
        }
        Ok(Response::new(response(status(&self.lifecycle))))
    }

    type WatchStream = Statuses;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let known = self.knows(&request.get_ref().service);
        let lifecycle = Arc::clone(&self.lifecycle);
        let statuses = futures_util::stream::unfold(
            (Watching::First { known }, lifecycle),
            |(watching, lifecycle)| async move {
                let sent = match watching {
                    // An unknown service is `SERVICE_UNKNOWN`, and the call
                    // stays open, as the protocol says.
                    Watching::First { known: false } => ServingStatus::ServiceUnknown,
                    Watching::First { known: true } => status(&lifecycle),
                    Watching::Serving => {
                        lifecycle.begun().await;
                        match status(&lifecycle) {
                            // Handed over: nothing new to say.
                            ServingStatus::Serving => {
                                lifecycle.refusing().await;
                                return None;
                            }
                            changed => changed,
                        }
                    }
                    Watching::Last => {
                        lifecycle.refusing().await;
                        return None;
                    }
                };
                let then = if sent == ServingStatus::Serving && lifecycle.phase() == Phase::Running
                {
                    Watching::Serving
                } else {
                    Watching::Last
                };
                Some((Ok(response(sent)), (then, lifecycle)))
            },
        );
        Ok(Response::new(Box::pin(statuses)))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tonic_health::pb::health_server::Health as _;

    use super::*;

    fn ask(service: &str) -> Request<HealthCheckRequest> {
        Request::new(HealthCheckRequest {
            service: service.to_owned(),
        })
    }

    async fn check(health: &Health, service: &str) -> Result<ServingStatus, tonic::Code> {
        match health.check(ask(service)).await {
            Ok(response) => Ok(response.into_inner().status()),
            Err(status) => Err(status.code()),
        }
    }

    #[tokio::test]
    async fn check_follows_the_lifecycle_and_nothing_sets_it_back() {
        let lifecycle = Arc::new(Lifecycle::new());
        let health = Health::new(Arc::clone(&lifecycle), vec!["demo.Echo"]);
        assert_eq!(check(&health, "").await, Ok(ServingStatus::Serving));
        assert_eq!(
            check(&health, "demo.Echo").await,
            Ok(ServingStatus::Serving)
        );
        assert_eq!(
            check(&health, "demo.Other").await,
            Err(tonic::Code::NotFound)
        );
        lifecycle.advance(Phase::NotReady);
        assert_eq!(check(&health, "").await, Ok(ServingStatus::NotServing));
        assert_eq!(
            check(&health, "demo.Echo").await,
            Ok(ServingStatus::NotServing)
        );
        lifecycle.advance(Phase::Refusing);
        assert_eq!(check(&health, "").await, Ok(ServingStatus::NotServing));
    }

    #[tokio::test]
    async fn watch_says_serving_then_not_serving_then_ends_when_the_drain_begins() {
        let lifecycle = Arc::new(Lifecycle::new());
        let health = Health::new(Arc::clone(&lifecycle), vec!["demo.Echo"]);
        let mut watch = health.watch(ask("demo.Echo")).await.unwrap().into_inner();
        let next = async |watch: &mut Statuses| watch.next().await.map(|r| r.unwrap().status());
        assert_eq!(next(&mut watch).await, Some(ServingStatus::Serving));
        lifecycle.advance(Phase::NotReady);
        assert_eq!(next(&mut watch).await, Some(ServingStatus::NotServing));
        // Still open in the pre-stop window; ends with the refusal.
        let end = tokio::spawn(async move { next(&mut watch).await });
        tokio::task::yield_now().await;
        assert!(!end.is_finished());
        lifecycle.advance(Phase::Refusing);
        assert_eq!(end.await.unwrap(), None);
    }

    #[tokio::test]
    async fn watch_of_an_unknown_service_says_so_and_stays_open_until_the_drain() {
        let lifecycle = Arc::new(Lifecycle::new());
        let health = Health::new(Arc::clone(&lifecycle), vec![]);
        let mut watch = health.watch(ask("demo.Other")).await.unwrap().into_inner();
        let first = watch.next().await.unwrap().unwrap();
        assert_eq!(first.status(), ServingStatus::ServiceUnknown);
        lifecycle.advance(Phase::Refusing);
        assert!(watch.next().await.is_none());
    }
}
