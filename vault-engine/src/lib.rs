//! vault-engine (being built)
