# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_vault_global_optspecs
    string join \n v/verbose q/quiet h/help V/version
end

function __fish_vault_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_vault_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_vault_using_subcommand
    set -l cmd (__fish_vault_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c vault -n "__fish_vault_needs_command" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_needs_command" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_needs_command" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_needs_command" -f -a "create" -d 'Create a new, empty format-8 vault (asks the password twice on a terminal)'
complete -c vault -n "__fish_vault_needs_command" -f -a "info" -d 'Show format, cipher combo, shortening threshold and backend'
complete -c vault -n "__fish_vault_needs_command" -f -a "ls" -d 'List cleartext names (sizes from ciphertext lengths). Directories end in `/`'
complete -c vault -n "__fish_vault_needs_command" -f -a "cat" -d 'Write a file\'s cleartext to stdout'
complete -c vault -n "__fish_vault_needs_command" -f -a "get" -d 'Copy out of the vault (`cp -r` semantics: a DEST that does not exist becomes the copy, an existing directory receives it inside)'
complete -c vault -n "__fish_vault_needs_command" -f -a "put" -d 'Copy into the vault (`cp -r` semantics: a PATH that does not exist becomes the copy, an existing directory receives it inside)'
complete -c vault -n "__fish_vault_needs_command" -f -a "mkdir" -d 'Create directories'
complete -c vault -n "__fish_vault_needs_command" -f -a "rm" -d 'Remove files, symlinks and (with -r) directories'
complete -c vault -n "__fish_vault_needs_command" -f -a "mv" -d 'Rename or move (into TO when TO is an existing directory)'
complete -c vault -n "__fish_vault_needs_command" -f -a "passwd" -d 'Change the vault password; keys and data stay unchanged'
complete -c vault -n "__fish_vault_needs_command" -f -a "recovery-key" -d 'Cryptomator-compatible recovery key: show it, or set a new password with it'
complete -c vault -n "__fish_vault_needs_command" -f -a "copy" -d 'Copy a vault\'s ciphertext as is to another storage (no password needed); resumable, vault.cryptomator last, DST checked afterwards. The connection flags apply to both ends'
complete -c vault -n "__fish_vault_needs_command" -f -a "check" -d 'Health check; exit 6 when problems remain'
complete -c vault -n "__fish_vault_needs_command" -f -a "mount" -d 'Mount the vault as a drive; detaches once the mount answers'
complete -c vault -n "__fish_vault_needs_command" -f -a "__mount-daemon" -d 'Internal: the detached mount daemon (started by `vault mount`)'
complete -c vault -n "__fish_vault_needs_command" -f -a "unmount" -d 'Flush and unmount a mounted vault'
complete -c vault -n "__fish_vault_needs_command" -f -a "queue" -d 'Show a --cache=full mount\'s upload queue; --retry tries every waiting upload now'
complete -c vault -n "__fish_vault_needs_command" -f -a "status" -d 'List this user\'s mounted vaults'
complete -c vault -n "__fish_vault_needs_command" -f -a "pin" -d 'Keep files offline: pin files or folders of a vault mounted with --cache=full (their content is kept on this disk, files added later to a pinned folder too)'
complete -c vault -n "__fish_vault_needs_command" -f -a "unpin" -d 'Unpin files or folders pinned with `vault pin` (their content may then be evicted)'
complete -c vault -n "__fish_vault_needs_command" -f -a "open" -d 'Mount a vault at its default mountpoint and open it in the file manager, or only open it if it is mounted (what a double-click on vault.cryptomator runs)'
complete -c vault -n "__fish_vault_needs_command" -f -a "auth" -d 'Answer a reconnect question (a new TOTP code) of a detached mount'
complete -c vault -n "__fish_vault_needs_command" -f -a "add" -d 'Add a named vault to the config file (`vault mount NAME`, and NAME as STORAGE anywhere)'
complete -c vault -n "__fish_vault_needs_command" -f -a "list" -d 'List the named vaults: NAME, STORAGE, MOUNTPOINT, and where each is mounted'
complete -c vault -n "__fish_vault_needs_command" -f -a "remove" -d 'Forget a named vault: its config entry and its stored secrets (never its data)'
complete -c vault -n "__fish_vault_needs_command" -f -a "forget" -d 'Drop the secrets stored in the keyring for a vault (NAME or STORAGE): its vault password, and the key passphrases, TOTP secret and WebDAV password of its connection'
complete -c vault -n "__fish_vault_needs_command" -f -a "login" -d 'Log in to a server in a browser and get a STORAGE for it'
complete -c vault -n "__fish_vault_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c vault -n "__fish_vault_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault -n "__fish_vault_using_subcommand create" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand create" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand create" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand create" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand create" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand create" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand create" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand create" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand create" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand create" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand create" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand create" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand create" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand create" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand create" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand create" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand create" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand create" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand create" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand create" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand info" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand info" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand info" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand info" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand info" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand info" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand info" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand info" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand info" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand info" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand info" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand info" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand info" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand info" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand info" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand info" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand info" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand info" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand info" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand info" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand ls" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand ls" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand ls" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand ls" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand ls" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand ls" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand ls" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand ls" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand ls" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand ls" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand ls" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand ls" -s l -d 'Long format: type, size, modification time (UTC), name, symlink target'
complete -c vault -n "__fish_vault_using_subcommand ls" -s R -d 'Recurse; paths are printed relative to PATH'
complete -c vault -n "__fish_vault_using_subcommand ls" -s 0 -d 'Print names raw, each entry ending in NUL instead of a newline (for scripts; otherwise control characters in names are C-escaped)'
complete -c vault -n "__fish_vault_using_subcommand ls" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand ls" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand ls" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand ls" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand ls" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand ls" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand ls" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand ls" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand ls" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand cat" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand cat" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand cat" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand cat" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand cat" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand cat" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand cat" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand cat" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand cat" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand cat" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand cat" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand cat" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand cat" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand cat" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand cat" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand cat" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand cat" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand cat" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand cat" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand cat" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand get" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand get" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand get" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand get" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand get" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand get" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand get" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand get" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand get" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand get" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand get" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand get" -s r -d 'Copy directories recursively (symlinks are copied as symlinks)'
complete -c vault -n "__fish_vault_using_subcommand get" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand get" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand get" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand get" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand get" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand get" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand get" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand get" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand get" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand put" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand put" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand put" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand put" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand put" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand put" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand put" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand put" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand put" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand put" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand put" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand put" -s r -d 'Copy directories recursively (symlinks are copied as symlinks)'
complete -c vault -n "__fish_vault_using_subcommand put" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand put" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand put" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand put" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand put" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand put" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand put" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand put" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand put" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand mkdir" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mkdir" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand mkdir" -s p -d 'Create missing parents; no error if the directory exists'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand mkdir" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand rm" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand rm" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand rm" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand rm" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand rm" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand rm" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand rm" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand rm" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand rm" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand rm" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand rm" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand rm" -s r -d 'Remove directories and their contents'
complete -c vault -n "__fish_vault_using_subcommand rm" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand rm" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand rm" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand rm" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand rm" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand rm" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand rm" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand rm" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand rm" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand mv" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mv" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand mv" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand mv" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mv" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mv" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand mv" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand mv" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand mv" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand mv" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand mv" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand mv" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand mv" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand mv" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand mv" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand mv" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand mv" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand mv" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand mv" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand mv" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand passwd" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand passwd" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand passwd" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand passwd" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand passwd" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand passwd" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand passwd" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand passwd" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand passwd" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand passwd" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand passwd" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand passwd" -l new-password-file -d 'Read the new password from the first line of FILE (non-interactive use)' -r -F
complete -c vault -n "__fish_vault_using_subcommand passwd" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand passwd" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand passwd" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand passwd" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand passwd" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand passwd" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand passwd" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand passwd" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand passwd" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and not __fish_seen_subcommand_from show reset help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and not __fish_seen_subcommand_from show reset help" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and not __fish_seen_subcommand_from show reset help" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and not __fish_seen_subcommand_from show reset help" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and not __fish_seen_subcommand_from show reset help" -f -a "show" -d 'Print the vault\'s 44-word recovery key on stdout, on one line (asks the vault password). The words are as secret as the vault\'s keys'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and not __fish_seen_subcommand_from show reset help" -f -a "reset" -d 'Set a new password from the recovery key; the current password is not needed. The old masterkey file is kept as masterkey.cryptomator.<HEX>.bkup'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and not __fish_seen_subcommand_from show reset help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l word-list -d 'Cryptomator\'s 4096words_en.txt (checked against its known SHA-256)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l word-list -d 'Cryptomator\'s 4096words_en.txt (checked against its known SHA-256)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l recovery-key-file -d 'Read the recovery key from FILE (`-`: stdin); words separated by any whitespace. Otherwise askpass or a prompt without echo (`Recovery key for STORAGE: `)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l new-password-file -d 'Read the new password from the first line of FILE (non-interactive use)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from reset" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the vault\'s 44-word recovery key on stdout, on one line (asks the vault password). The words are as secret as the vault\'s keys'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Set a new password from the recovery key; the current password is not needed. The old masterkey file is kept as masterkey.cryptomator.<HEX>.bkup'
complete -c vault -n "__fish_vault_using_subcommand recovery-key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault -n "__fish_vault_using_subcommand copy" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand copy" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand copy" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand copy" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand copy" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand copy" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand copy" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand copy" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand copy" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand copy" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand copy" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand copy" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand copy" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand copy" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand copy" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand copy" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand copy" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand copy" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand copy" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand copy" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand check" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand check" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand check" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand check" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand check" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand check" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand check" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand check" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand check" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand check" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand check" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand check" -l repair -d 'Repair what can be repaired without losing data'
complete -c vault -n "__fish_vault_using_subcommand check" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand check" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand check" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand check" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand check" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand check" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand check" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand check" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand check" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand mount" -s o -d 'Mount options, comma separated: ro, rw, allow_other, nonempty, idle=DURATION, and options passed to FUSE' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l idle -d 'Unmount after this long without access (e.g. 90s, 10m, 1h)' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l symlinks -d 'Which symlink targets the mount returns: inside (default: a target that is absolute or climbs above the mount root fails with EACCES), none (no symlink is followed), all' -r -f -a "all\t''
inside\t''
none\t''"
complete -c vault -n "__fish_vault_using_subcommand mount" -l log-file -d 'Write the daemon\'s log to FILE (otherwise it is discarded once detached)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mount" -l cache -d 'Cache: off (nothing kept on disk), metadata (listings and attributes kept on disk, served when the server is slow or unreachable) or full (also file content: files read and pinned files work offline; writes go through the upload queue, so close and fsync return once the change is durable on this laptop). Default: off for a local folder, metadata for sftp, WebDAV and S3' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l dir-cache-time -d 'How long listings and attributes are used without asking the server again (default 1s; also `-o dir_cache_time=`)' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l cache-max-size -d 'With --cache=full: unpinned content kept on disk before the least recently used is evicted (default 1G; pinned content is never evicted; also `-o cache_max_size=`)' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mount" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand mount" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mount" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand mount" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand mount" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand mount" -l display-name -d 'Internal: STORAGE as the user typed it, for the daemon\'s messages' -r
complete -c vault -n "__fish_vault_using_subcommand mount" -s f -l foreground -d 'Stay in the foreground (for systemd and debugging)'
complete -c vault -n "__fish_vault_using_subcommand mount" -l read-only -d 'Mount read-only (the vault is opened read-only: nothing is written)'
complete -c vault -n "__fish_vault_using_subcommand mount" -l allow-other -d 'Let other users access the mount (needs user_allow_other in /etc/fuse.conf for non-root)'
complete -c vault -n "__fish_vault_using_subcommand mount" -l no-auto-lock -d 'Do not lock (flush and unmount) the vault when the system suspends or the session locks (a named vault\'s `auto_lock = false`)'
complete -c vault -n "__fish_vault_using_subcommand mount" -l reveal -d 'Open the mountpoint in the file manager once mounted (on a desktop: DISPLAY or WAYLAND_DISPLAY set)'
complete -c vault -n "__fish_vault_using_subcommand mount" -l no-sidebar -d 'Do not list the mounted vault in the file manager\'s sidebar (GTK bookmarks, KDE places; a named vault\'s `sidebar = false`)'
complete -c vault -n "__fish_vault_using_subcommand mount" -l no-notify -d 'No desktop notifications (auto-lock, a reconnect waiting for `vault auth`, a sync conflict; a named vault\'s `notify = false`)'
complete -c vault -n "__fish_vault_using_subcommand mount" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand mount" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand mount" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand mount" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand mount" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand mount" -l offline-start -d 'Internal: the parent found the server unreachable, so the daemon starts from the cache without waiting for the connect a second time'
complete -c vault -n "__fish_vault_using_subcommand mount" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand mount" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand mount" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand mount" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -s o -d 'Mount options, comma separated: ro, rw, allow_other, nonempty, idle=DURATION, and options passed to FUSE' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l idle -d 'Unmount after this long without access (e.g. 90s, 10m, 1h)' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l symlinks -d 'Which symlink targets the mount returns: inside (default: a target that is absolute or climbs above the mount root fails with EACCES), none (no symlink is followed), all' -r -f -a "all\t''
inside\t''
none\t''"
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l log-file -d 'Write the daemon\'s log to FILE (otherwise it is discarded once detached)' -r -F
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l cache -d 'Cache: off (nothing kept on disk), metadata (listings and attributes kept on disk, served when the server is slow or unreachable) or full (also file content: files read and pinned files work offline; writes go through the upload queue, so close and fsync return once the change is durable on this laptop). Default: off for a local folder, metadata for sftp, WebDAV and S3' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l dir-cache-time -d 'How long listings and attributes are used without asking the server again (default 1s; also `-o dir_cache_time=`)' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l cache-max-size -d 'With --cache=full: unpinned content kept on disk before the least recently used is evicted (default 1G; pinned content is never evicted; also `-o cache_max_size=`)' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l display-name -d 'Internal: STORAGE as the user typed it, for the daemon\'s messages' -r
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -s f -l foreground -d 'Stay in the foreground (for systemd and debugging)'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l read-only -d 'Mount read-only (the vault is opened read-only: nothing is written)'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l allow-other -d 'Let other users access the mount (needs user_allow_other in /etc/fuse.conf for non-root)'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l no-auto-lock -d 'Do not lock (flush and unmount) the vault when the system suspends or the session locks (a named vault\'s `auto_lock = false`)'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l reveal -d 'Open the mountpoint in the file manager once mounted (on a desktop: DISPLAY or WAYLAND_DISPLAY set)'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l no-sidebar -d 'Do not list the mounted vault in the file manager\'s sidebar (GTK bookmarks, KDE places; a named vault\'s `sidebar = false`)'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l no-notify -d 'No desktop notifications (auto-lock, a reconnect waiting for `vault auth`, a sync conflict; a named vault\'s `notify = false`)'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -l offline-start -d 'Internal: the parent found the server unreachable, so the daemon starts from the cache without waiting for the connect a second time'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand __mount-daemon" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand unmount" -s f -l force -d 'Clear a stale mount whose daemon died ("Transport endpoint is not connected")'
complete -c vault -n "__fish_vault_using_subcommand unmount" -l leave-pending -d 'With --cache=full: do not wait for the upload queue; what is pending stays in the journal and resumes on the next mount'
complete -c vault -n "__fish_vault_using_subcommand unmount" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand unmount" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand unmount" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand unmount" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand queue" -l retry -d 'Retry every waiting upload now, whatever its backoff'
complete -c vault -n "__fish_vault_using_subcommand queue" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand queue" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand queue" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand queue" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand status" -s l -l long -d 'Long form: also each mount\'s cache mode (`cache=off|metadata|full`) and upload queue'
complete -c vault -n "__fish_vault_using_subcommand status" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand status" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand status" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand status" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand pin" -l wait -d 'Wait until the pinned content is on this disk (otherwise it is fetched in the background)'
complete -c vault -n "__fish_vault_using_subcommand pin" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand pin" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand pin" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand pin" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand unpin" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand unpin" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand unpin" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand unpin" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand open" -l lock -d 'Unmount that vault instead (the desktop entry\'s "Lock" action)'
complete -c vault -n "__fish_vault_using_subcommand open" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand open" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand open" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand open" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand auth" -l askpass -d 'Run CMD with each question as its only argument and read the answer from its stdout (like SSH_ASKPASS); otherwise the terminal is asked' -r
complete -c vault -n "__fish_vault_using_subcommand auth" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand auth" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand auth" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand auth" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand add" -l idle -d 'Unmount after this long without access (e.g. 30m)' -r
complete -c vault -n "__fish_vault_using_subcommand add" -l symlinks -d 'Which symlink targets a mount returns: all, inside (the default), none' -r -f -a "all\t''
inside\t''
none\t''"
complete -c vault -n "__fish_vault_using_subcommand add" -l cache -d 'The mount\'s cache: off, metadata or full (config key `cache`; default by storage)' -r
complete -c vault -n "__fish_vault_using_subcommand add" -l dir-cache-time -d 'How long listings and attributes are used without asking the server (config key `dir_cache_time`)' -r
complete -c vault -n "__fish_vault_using_subcommand add" -l cache-max-size -d 'Unpinned content kept by --cache=full (config key `cache_max_size`)' -r
complete -c vault -n "__fish_vault_using_subcommand add" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand add" -l known-hosts -d 'known_hosts file (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand add" -s J -l proxy-jump -d 'Jump hosts, outermost first (sftp://; as ssh -J)' -r
complete -c vault -n "__fish_vault_using_subcommand add" -l ca-cert -d 'Trust this PEM certificate (or CA) too (davs://, https://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand add" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand add" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand add" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand add" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand add" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand add" -l force -d 'Replace an existing entry of that name'
complete -c vault -n "__fish_vault_using_subcommand add" -l read-only -d 'Mount read-only'
complete -c vault -n "__fish_vault_using_subcommand add" -l no-auto-lock -d 'Do not lock this vault on suspend or session lock'
complete -c vault -n "__fish_vault_using_subcommand add" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://)'
complete -c vault -n "__fish_vault_using_subcommand add" -l insecure-http -d 'Allow the password over plain http:// (dav://) to a host other than this machine'
complete -c vault -n "__fish_vault_using_subcommand add" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand add" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand add" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand add" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand list" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand list" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand list" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand remove" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand remove" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand remove" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand remove" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand forget" -l password-file -d 'Read the vault password from the first line of FILE (newline stripped)' -r -F
complete -c vault -n "__fish_vault_using_subcommand forget" -l askpass -d 'Run CMD with the prompt text as its only argument and read the secret from its stdout (like SSH_ASKPASS). CMD is a program path, run without a shell' -r
complete -c vault -n "__fish_vault_using_subcommand forget" -l ca-cert -d 'Trust this PEM certificate (or CA) too, for davs:// and https:// storage' -r -F
complete -c vault -n "__fish_vault_using_subcommand forget" -s i -l identity -d 'SSH private key to try first (sftp://)' -r -F
complete -c vault -n "__fish_vault_using_subcommand forget" -l known-hosts -d 'known_hosts file to check and extend (sftp://; default ~/.ssh/known_hosts)' -r -F
complete -c vault -n "__fish_vault_using_subcommand forget" -s J -l proxy-jump -d 'Reach the server through these jump hosts, outermost first (sftp://; as ssh -J, over ~/.ssh/config\'s ProxyJump/ProxyCommand). Each is a full SSH login: host key checked, its own questions. `none` ignores the ssh config\'s ProxyJump' -r
complete -c vault -n "__fish_vault_using_subcommand forget" -l s3-endpoint -d 'S3 endpoint for anything but AWS (MinIO, Ceph RGW, Garage), e.g. https://minio.example:9000 (s3://; path-style addressing)' -r
complete -c vault -n "__fish_vault_using_subcommand forget" -l s3-region -d 'S3 region (s3://; default: AWS_REGION, the profile\'s, else us-east-1)' -r
complete -c vault -n "__fish_vault_using_subcommand forget" -l s3-profile -d 'Profile of ~/.aws/credentials and ~/.aws/config to use (s3://; instead of AWS_PROFILE; its keys win over AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)' -r
complete -c vault -n "__fish_vault_using_subcommand forget" -l s3-addressing -d 'Bucket addressing (s3://): path (endpoint/bucket/key; the default with --s3-endpoint) or virtual (bucket.endpoint/key; the default for AWS)' -r -f -a "path\t''
virtual\t''"
complete -c vault -n "__fish_vault_using_subcommand forget" -l s3-conditional-put -d 'Create-only writes by conditional put (If-None-Match: *), on by default; off = HEAD then PUT, for stores that ignore the header (s3://; see README)' -r -f -a "on\t''
off\t''"
complete -c vault -n "__fish_vault_using_subcommand forget" -l accept-new-host-key -d 'Accept and record an unknown host key without asking (sftp://). A changed key is always refused'
complete -c vault -n "__fish_vault_using_subcommand forget" -l create-bucket -d 'Make a missing bucket (vault create on s3://)'
complete -c vault -n "__fish_vault_using_subcommand forget" -l insecure-http -d 'Allow a password over plain http:// (dav://) to a host other than this machine; without it that is refused, as anyone on the network could read the password'
complete -c vault -n "__fish_vault_using_subcommand forget" -l remember -d 'Keep the secrets this command asks for (vault password, SSH key passphrase, WebDAV password) in the OS keyring, stored once the command succeeded; later runs use them instead of asking. `vault forget` drops them'
complete -c vault -n "__fish_vault_using_subcommand forget" -l remember-totp -d 'Ask for the TOTP secret of this SFTP account (base32, or an otpauth:// URI) and keep it in the OS keyring: one-time-code prompts are then answered without you, so unattended reconnects work. This turns two factors into one'
complete -c vault -n "__fish_vault_using_subcommand forget" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand forget" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand forget" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand forget" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand login; and not __fish_seen_subcommand_from nextcloud help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand login; and not __fish_seen_subcommand_from nextcloud help" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand login; and not __fish_seen_subcommand_from nextcloud help" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand login; and not __fish_seen_subcommand_from nextcloud help" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand login; and not __fish_seen_subcommand_from nextcloud help" -f -a "nextcloud" -d 'Nextcloud Login Flow v2: approve in the browser; prints the davs:// STORAGE and keeps the new app password in the keyring (--remember) or prints it once'
complete -c vault -n "__fish_vault_using_subcommand login; and not __fish_seen_subcommand_from nextcloud help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -l add -d 'Also add a named vault for the folder --folder on this account' -r
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -l folder -d 'The vault\'s folder inside the account\'s files (with --add; default: the top)' -r
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -l ca-cert -d 'Trust this PEM certificate (or CA) too' -r -F
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -l timeout -d 'Give up waiting for the approval after this long' -r
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -l remember -d 'Keep the app password in the OS keyring (otherwise it is printed once)'
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -l insecure-http -d 'Allow the login over plain http:// to a host other than this machine (the app password would cross the network readable by anyone on it)'
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from nextcloud" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from help" -f -a "nextcloud" -d 'Nextcloud Login Flow v2: approve in the browser; prints the davs:// STORAGE and keeps the new app password in the keyring (--remember) or prints it once'
complete -c vault -n "__fish_vault_using_subcommand login; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault -n "__fish_vault_using_subcommand completions" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace)'
complete -c vault -n "__fish_vault_using_subcommand completions" -s q -l quiet -d 'Only errors on stderr'
complete -c vault -n "__fish_vault_using_subcommand completions" -s h -l help -d 'Print help'
complete -c vault -n "__fish_vault_using_subcommand completions" -s V -l version -d 'Print version'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "create" -d 'Create a new, empty format-8 vault (asks the password twice on a terminal)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "info" -d 'Show format, cipher combo, shortening threshold and backend'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "ls" -d 'List cleartext names (sizes from ciphertext lengths). Directories end in `/`'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "cat" -d 'Write a file\'s cleartext to stdout'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "get" -d 'Copy out of the vault (`cp -r` semantics: a DEST that does not exist becomes the copy, an existing directory receives it inside)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "put" -d 'Copy into the vault (`cp -r` semantics: a PATH that does not exist becomes the copy, an existing directory receives it inside)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "mkdir" -d 'Create directories'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "rm" -d 'Remove files, symlinks and (with -r) directories'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "mv" -d 'Rename or move (into TO when TO is an existing directory)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "passwd" -d 'Change the vault password; keys and data stay unchanged'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "recovery-key" -d 'Cryptomator-compatible recovery key: show it, or set a new password with it'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "copy" -d 'Copy a vault\'s ciphertext as is to another storage (no password needed); resumable, vault.cryptomator last, DST checked afterwards. The connection flags apply to both ends'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "check" -d 'Health check; exit 6 when problems remain'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "mount" -d 'Mount the vault as a drive; detaches once the mount answers'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "__mount-daemon" -d 'Internal: the detached mount daemon (started by `vault mount`)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "unmount" -d 'Flush and unmount a mounted vault'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "queue" -d 'Show a --cache=full mount\'s upload queue; --retry tries every waiting upload now'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "status" -d 'List this user\'s mounted vaults'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "pin" -d 'Keep files offline: pin files or folders of a vault mounted with --cache=full (their content is kept on this disk, files added later to a pinned folder too)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "unpin" -d 'Unpin files or folders pinned with `vault pin` (their content may then be evicted)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "open" -d 'Mount a vault at its default mountpoint and open it in the file manager, or only open it if it is mounted (what a double-click on vault.cryptomator runs)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "auth" -d 'Answer a reconnect question (a new TOTP code) of a detached mount'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "add" -d 'Add a named vault to the config file (`vault mount NAME`, and NAME as STORAGE anywhere)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "list" -d 'List the named vaults: NAME, STORAGE, MOUNTPOINT, and where each is mounted'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "remove" -d 'Forget a named vault: its config entry and its stored secrets (never its data)'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "forget" -d 'Drop the secrets stored in the keyring for a vault (NAME or STORAGE): its vault password, and the key passphrases, TOTP secret and WebDAV password of its connection'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "login" -d 'Log in to a server in a browser and get a STORAGE for it'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "completions" -d 'Print shell completions'
complete -c vault -n "__fish_vault_using_subcommand help; and not __fish_seen_subcommand_from create info ls cat get put mkdir rm mv passwd recovery-key copy check mount __mount-daemon unmount queue status pin unpin open auth add list remove forget login completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault -n "__fish_vault_using_subcommand help; and __fish_seen_subcommand_from recovery-key" -f -a "show" -d 'Print the vault\'s 44-word recovery key on stdout, on one line (asks the vault password). The words are as secret as the vault\'s keys'
complete -c vault -n "__fish_vault_using_subcommand help; and __fish_seen_subcommand_from recovery-key" -f -a "reset" -d 'Set a new password from the recovery key; the current password is not needed. The old masterkey file is kept as masterkey.cryptomator.<HEX>.bkup'
complete -c vault -n "__fish_vault_using_subcommand help; and __fish_seen_subcommand_from login" -f -a "nextcloud" -d 'Nextcloud Login Flow v2: approve in the browser; prints the davs:// STORAGE and keeps the new app password in the keyring (--remember) or prints it once'
