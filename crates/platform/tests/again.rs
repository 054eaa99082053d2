//! `eid demo --against` twice against one platform, from another folder than the one the
//! platform was started in with a relative data folder: `platform.json` names the token
//! files by absolute path, and the second run says what the first made true (Nanning
//! accepted nationwide) and checks the rest of the story. Remote enrolment with the face
//! when this build has it and `EID_PROOFING_DIR` is set, at the counter otherwise.
//!
//! The only test of its binary: it changes the process's current folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eid_core::{OsRandom, SystemClock};
use eid_platform::up::{Options, start};

async fn play(base: &str, proofing: Option<&Path>) -> (bool, String) {
    let mut lines = Vec::new();
    let all = eid_platform::demo::play(base, proofing, &mut |l| lines.push(l.to_owned())).await;
    (all, lines.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_plays_twice_from_another_folder() {
    let root = std::env::temp_dir().join(format!("eid-platform-again-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let elsewhere = root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let proofing = std::env::var_os("EID_PROOFING_DIR")
        .map(PathBuf::from)
        .filter(|_| cfg!(feature = "face"));

    // `eid up --data eid-data`, started in `root`.
    std::env::set_current_dir(&root).unwrap();
    let running = start(
        &Options {
            dir: PathBuf::from("eid-data"),
            port: 0,
            proofing: proofing.clone(),
            topology: None,
            algorithm: eid_crypto::Algorithm::Es256,
        },
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        &mut |_| {},
    )
    .await
    .unwrap();
    let d = &running.description;
    let mut files = vec![d["operator_token_file"].as_str().unwrap()];
    for a in d["authorities"].as_array().unwrap() {
        files.push(a["admin_token_file"].as_str().unwrap());
    }
    for file in files {
        assert!(Path::new(file).is_absolute(), "{file}");
        assert!(Path::new(file).starts_with(&root), "{file}");
        assert!(Path::new(file).is_file(), "{file}");
    }

    // `eid demo --against`, twice, from another folder.
    std::env::set_current_dir(&elsewhere).unwrap();
    let (all, first) = play(&running.base, proofing.as_deref()).await;
    assert!(all, "{first}");
    assert!(!first.contains("already true"), "{first}");
    assert!(first.contains("trust list version 2"), "{first}");
    let (all, second) = play(&running.base, proofing.as_deref()).await;
    assert!(all, "{second}");
    assert!(
        second.contains("already true: Nanning is already accepted nationwide, trust list v2"),
        "{second}"
    );
    assert!(second.contains("no new version signed"), "{second}");
    // Only the refusal in Hangzhou is not played again: every other step is checked.
    assert_eq!(
        second.matches('✓').count() + 1,
        first.matches('✓').count(),
        "{first}\n---\n{second}"
    );
    assert!(!second.contains('✗'), "{second}");
    running.stop().await;
    std::env::set_current_dir(std::env::temp_dir()).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}
