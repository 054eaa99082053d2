//! The kill switch: a gate and a bank refuse within a second of the lost report, accept once found.

use std::time::Duration as StdDuration;

use crate::common::World;
use crate::served;
use crate::{bank_session, scan, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_and_the_bank_accept_then_refuse_within_a_second_of_the_report() {
    let world = World::new();
    let served = served::serve(&world).await;
    let gate = start(&world, &served, "nanning-airport", false).await;
    let bank = start(&world, &served, "nanning-bank", true).await;
    let compact = world.airport_credential(&served.reference);
    let mdoc = World::issue_with_status(
        &world.nanning,
        &world.device_key,
        "superapp-a",
        served.reference.clone(),
    );

    let report = scan(&gate, &world, &compact).await;
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["channel"], "offline_qr");
    let report = bank_session(&bank, &world, &mdoc).await;
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["channel"], "online");
    assert_eq!(
        report["attributes"]["document_number"],
        "450103199003070024"
    );

    // The phone is reported lost: within a second both services refuse, from their caches.
    served.wallet_action("suspend").await;
    tokio::time::timeout(StdDuration::from_secs(1), async {
        let (mut gate_refused, mut bank_refused) = (false, false);
        while !(gate_refused && bank_refused) {
            gate_refused |=
                scan(&gate, &world, &compact).await["reasons"][0]["reason"] == "status_suspended";
            bank_refused |= bank_session(&bank, &world, &mdoc).await["reasons"][0]["reason"]
                == "status_suspended";
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
    })
    .await
    .expect("both services refuse within a second of the report");

    // The phone is found: the reinstatement's push cannot lift the suspension, but has the
    // gate fetch the signed list at once — accepted again within seconds, not after half
    // the staleness bound (minutes for airport security).
    served.wallet_action("reinstate").await;
    tokio::time::timeout(StdDuration::from_secs(4), async {
        while scan(&gate, &world, &compact).await["accepted"] != true {
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    })
    .await
    .expect("the gate accepts the reinstated phone within seconds");
}
