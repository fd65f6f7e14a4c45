//! Generated image files, good and bad, for tests, benchmarks and the demo.
