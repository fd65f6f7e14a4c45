//! The delivery worker against a real HTTP receiver on 127.0.0.1, started by each check, on
//! both stores: SQLite (`sqlite::…`) and DynamoDB on moto (`dynamo::…`, skipped without
//! `VETTED_TEST_AWS_ENDPOINT`, failed under `VETTED_TEST_REQUIRE_AWS=1`). Schedules are
//! injected (zero or short waits) and the rounds are driven by the test, so nothing sleeps
//! and nothing is timed.

// Test code may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used)]

mod receiver;
mod stores;
mod suite;

/// One `#[tokio::test]` per check of [`suite`], on the store `$open` makes.
macro_rules! on_store {
    ($store:ident, $open:path, [$($check:ident),* $(,)?]) => {
        mod $store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(place) = $open().await else { return };
                    crate::suite::$check(place).await;
                }
            )*
        }
    };
}

macro_rules! every_check {
    ($store:ident, $open:path) => {
        on_store!(
            $store,
            $open,
            [
                a_receiver_that_fails_three_times_gets_the_event_once_delivered_with_one_id,
                attempts_run_out_and_the_delivery_has_failed,
                gone_disables_the_endpoint_and_stops_its_deliveries,
                with_the_guard_on_a_loopback_url_is_refused_and_nothing_is_sent,
                during_a_rotation_both_secrets_sign_and_after_the_overlap_only_the_new_one,
                a_redirect_is_not_followed_and_counts_as_a_failed_attempt,
                retry_after_on_a_503_is_respected_up_to_its_cap,
                a_delivery_claimed_by_a_process_that_died_is_sent_after_a_restart,
                events_reach_only_enabled_endpoints_that_want_them,
            ]
        );
    };
}

every_check!(sqlite, crate::stores::sqlite);
every_check!(dynamo, crate::stores::dynamo);
