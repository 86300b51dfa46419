//! `masterkey.cryptomator` parsing (docs/vault-format.md §2): never panics; what parses re-serialises to an
//! equal file; cheap scrypt costs are also unlocked (a wrong password must be an error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vault_format::{FormatError, MasterkeyFile};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = MasterkeyFile::parse(data) else { return };
    let again = MasterkeyFile::parse(&file.to_json()).expect("own output parses");
    assert_eq!(again.to_json(), file.to_json());
    // Only tiny costs: scrypt at the real N would make every input take 100 ms.
    let json: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
    let cost = json["scryptCostParam"].as_u64().unwrap_or(u64::MAX);
    let block = json["scryptBlockSize"].as_u64().unwrap_or(u64::MAX);
    if cost <= 64 && block <= 8 {
        match file.unlock("fuzz") {
            Ok(_) | Err(FormatError::WrongPassword) | Err(FormatError::InvalidMasterkeyFile(_)) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
});
