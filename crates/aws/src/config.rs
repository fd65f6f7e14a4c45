//! Building SDK clients: region, credentials, endpoint override and one rustls HTTP client.
