//! `FsObjectStore`: the object store port over a directory, with atomic writes.
