//! `SqsWorkQueue`: the work queue port over SQS, with its dead-letter queue.
