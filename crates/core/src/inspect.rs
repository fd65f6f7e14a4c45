//! The inspection gate: magic bytes and header dimensions, judged against the policy, from a prefix of the file.
