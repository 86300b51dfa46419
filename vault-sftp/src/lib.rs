//! vault-sftp (being built)
