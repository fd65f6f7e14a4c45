//! Shared support for the end-to-end tests: spawning the app, emulators, fixtures.
