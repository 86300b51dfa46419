//! vault-format (being built)
