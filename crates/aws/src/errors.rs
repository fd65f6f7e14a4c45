//! Mapping SDK errors to retryable or permanent backend errors.
