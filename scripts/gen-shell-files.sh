#!/usr/bin/env bash
# Regenerates the shell completions and man pages shipped in dist/ from the clap definitions
# (src/cli/args.rs), through the same code that tests/shell_files.rs checks them against:
#   dist/completions/vault.bash  _vault  vault.fish
#   dist/man/vault.1  vault-SUBCOMMAND.1 ...
# Run it after changing any command or option, and commit dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
VAULT_UPDATE_SHELL_FILES=1 cargo test -q -p vault --test shell_files shipped_files_are_current
git status --short -- dist/
