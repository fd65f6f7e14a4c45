//! `S3ObjectStore`: the object store port over S3.
