//! The running application built from a configuration the way `citebot serve` and `citebot
//! serve-http` build it (`startup::Application::build`), then served on port 0.

use crate::util::Workspace;
use citebot::http::PublicKey;
use citebot::startup::Application;
use ed25519_dalek::SigningKey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_built_from_a_configuration_answers_and_serves_the_endpoint() {
    let ws = Workspace::shipped();
    let mut config = ws.config();
    config.records.dir = ws.path("data");
    config.reload.watch = false;
    let application = Application::build(config).unwrap();
    assert!(application.loaded().rebuilt, "a new workspace has no index yet");
    assert!(application.watch().is_none(), "reload.watch = false");
    let answer = application.live().current().answer("What does collagen serum do?").unwrap();
    assert!(answer.answered);

    let key = hex::encode(SigningKey::from_bytes(&[42u8; 32]).verifying_key().to_bytes());
    let key = PublicKey::parse(&key).unwrap();
    let bound = application.endpoint(key).bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert_ne!(bound.local_addr().port(), 0);
    let health = format!("http://{}/healthz", bound.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.run(async move {
        let _ = stopped.await;
    }));
    let response = reqwest::get(&health).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(application.recorder().flush(std::time::Duration::from_secs(2)));
}
