//! `SecretBuf` wipes its whole allocation (a test outside the crate, which forbids `unsafe`:
//! reading the wiped allocation needs it).

use vault_format::SecretBuf;
use zeroize::Zeroize;

#[test]
fn zeroize_wipes_the_whole_allocation_and_keeps_the_capacity() {
    let mut b = SecretBuf::with_capacity(64);
    b.extend_from_slice(&[0xA5; 48]);
    b.truncate(16); // bytes past the length are still cleartext in the allocation
    let (ptr, cap) = (b.as_ptr(), b.capacity());
    b.zeroize();
    assert!(b.is_empty());
    assert_eq!((b.as_ptr(), b.capacity()), (ptr, cap), "same allocation");
    #[allow(unsafe_code)]
    // SAFETY: `ptr` is `b`'s live allocation of `cap` bytes, every one initialised (written
    // above or zeroed since); nothing writes to it while this slice lives.
    let all = unsafe { std::slice::from_raw_parts(ptr, cap) };
    assert!(
        all.iter().all(|&x| x == 0),
        "every byte of the allocation is wiped"
    );
}

#[test]
fn debug_shows_the_length_only() {
    let b = SecretBuf::from(b"secret".to_vec());
    assert_eq!(format!("{b:?}"), "SecretBuf(6 bytes)");
}
