//! Reading back what a pipeline published to EventBridge: a rule on its bus sends every
//! Vetted event to a queue made for the test. Shared by the tests on moto.

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;
use vetted_aws::config::AwsContext;
use vetted_aws::eventbridge::EVENT_SOURCE;

/// Creates the queue `{bus}-tap` and a rule on `bus` that sends it every event from
/// [`EVENT_SOURCE`]; returns the queue's URL.
pub async fn attach(ctx: &AwsContext, bus: &str) -> String {
    let (sqs, events) = (ctx.sqs(), ctx.eventbridge());
    let name = format!("{bus}-tap");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap();
    events
        .put_rule()
        .event_bus_name(bus)
        .name(&name)
        .event_pattern(json!({ "source": [EVENT_SOURCE] }).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("tap")
        .arn(arn)
        .build()
        .unwrap();
    events
        .put_targets()
        .event_bus_name(bus)
        .rule(&name)
        .targets(target)
        .send()
        .await
        .unwrap();
    url
}
