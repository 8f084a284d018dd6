//! The running application, built in one place from a [`Config`]: the retriever behind its
//! [`Live`] handle, the records writer, the metrics registry, the reload watcher, and the front
//! ends put together from them. `citebot serve` and `citebot serve-http` start through
//! [`Application::build`], and so can a test (as zero2prod's `Application::build` is).
//!
//! It sits on top: it imports the front ends and the services and nothing imports it but the
//! command line. It does not run anything by itself: the command line owns the async runtime, the
//! signals and the exit code.

use crate::app::{self, Loaded, Rebuild, StartError};
use crate::config::Config;
use crate::discord::{self, DiscordToken};
use crate::feedback::FeedbackSink;
use crate::http::{Endpoint, PublicKey};
use crate::live::Live;
use crate::metrics::{Metrics, Observed};
use crate::records::Recorder;
use crate::reload::{self, Watcher};
use std::sync::Arc;

/// Everything a serving process runs on.
pub struct Application {
    config: Arc<Config>,
    live: Arc<Live>,
    loaded: Loaded,
    recorder: Recorder,
    metrics: Arc<Metrics>,
}

impl Application {
    /// Opens (or builds) the index, puts the retriever behind a [`Live`] handle, starts the records
    /// writer (or a disabled one, as `[records]` says) and a fresh metrics registry.
    pub fn build(config: Config) -> Result<Application, StartError> {
        let (retriever, loaded) = app::open(&config, Rebuild::IfStale)?;
        let live = Arc::new(Live::new(retriever));
        let recorder = Recorder::start_or_disabled(&config.records);
        Ok(Application {
            config: Arc::new(config),
            live,
            loaded,
            recorder,
            metrics: Arc::new(Metrics::new()),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What opening the index did (rebuilt or not, warnings, the semantic stage).
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    /// The retriever in service, swapped by reloads.
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// The records writer.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Starts the corpus watcher (hot reload) when `[reload] watch` is on and there is a corpus
    /// directory; keep the returned value alive while serving. Must be called inside the runtime.
    pub fn watch(&self) -> Option<Watcher> {
        if !self.config.reload.watch || self.loaded.embedded {
            return None;
        }
        let config = Config::clone(&self.config);
        reload::spawn_watcher(config, self.config.reload.clone(), self.live.clone(), |_| {})
            .map_err(|e| tracing::warn!("the corpus is not watched: {e}"))
            .ok()
    }

    /// `/reindex`: reloads the corpus into the live handle and describes how it went.
    pub fn reindex(&self) -> discord::Reindex {
        let (config, live) = (self.config.clone(), self.live.clone());
        Arc::new(move || {
            let (config, live) = (config.clone(), live.clone());
            Box::pin(async move {
                let settings = config.reload.clone();
                match reload::reload_async(config, settings, live).await {
                    Ok(report) => report.to_string(),
                    Err(e) => e.explain(),
                }
            })
        })
    }

    /// The gateway bot (`citebot serve`): answering from the live handle, reporting to the records
    /// and the metrics, with `/reindex`.
    pub fn gateway(&self, token: DiscordToken) -> discord::Server {
        let sink: Arc<dyn FeedbackSink> =
            Arc::new(Observed::new(Arc::new(self.recorder.clone()), self.metrics.clone()));
        discord::Server::new(self.config.discord.clone(), token, self.live.clone())
            .feedback(sink)
            .metrics(self.metrics.clone())
            .reindex(self.reindex())
    }

    /// The interactions endpoint (`citebot serve-http`): answering from the live handle, reporting
    /// to the records and the metrics (the endpoint counts what it reports itself).
    pub fn endpoint(&self, key: PublicKey) -> Endpoint {
        Endpoint::new(self.config.discord.clone(), key, self.live.clone())
            .feedback(Arc::new(self.recorder.clone()))
            .metrics(self.metrics.clone())
    }
}
