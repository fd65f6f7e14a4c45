//! `EventBridgeEventSink`: the event sink port over EventBridge.
