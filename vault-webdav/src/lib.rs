//! vault-webdav (being built)
