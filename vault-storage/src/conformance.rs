//! The storage conformance suite (in progress: the checks land in the next commit).
