//! vault-fs (being built)
