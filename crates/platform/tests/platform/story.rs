//! The story as `eid demo` plays it: at the counter, and remote with the face given the models.

#[cfg(feature = "face")]
use std::path::PathBuf;

use crate::{folder, play, up};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_plays_at_the_counter_without_face_matching() {
    let dir = folder("counter");
    let running = up(&dir, None).await;
    assert!(
        running
            .checks_off
            .iter()
            .any(|c| c.check.starts_with("face matching")),
        "face matching should be off without models"
    );
    let (all, lines) = play(&running.base, None).await;
    running.stop().await;
    let text = lines.join("\n");
    assert!(all, "{text}");
    assert!(text.contains("at the counter"), "{text}");
    assert!(text.contains("suspended by the hotline"), "{text}");
    assert_eq!(text.matches('✓').count(), 14, "{text}");
    assert!(text.contains("as before the move"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "face")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn the_story_plays_with_remote_enrolment_and_the_face() {
    let Some(proofing) = eid_core::testing::required_env("EID_PROOFING_DIR").map(PathBuf::from)
    else {
        return;
    };
    let dir = folder("face");
    let running = up(&dir, Some(proofing.clone())).await;
    assert!(
        !running
            .checks_off
            .iter()
            .any(|c| c.check.starts_with("face matching")),
        "face matching should be on"
    );
    let (all, lines) = play(&running.base, Some(&proofing)).await;
    running.stop().await;
    let text = lines.join("\n");
    assert!(all, "{text}");
    assert!(text.contains("remote, with her face"), "{text}");
    assert!(
        text.contains("reported from the new phone's wallet with her face"),
        "{text}"
    );
    assert!(text.contains("as before the move"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
