//! Creating the pipeline's resources on an AWS emulator: bucket, queues, table, state machine.
