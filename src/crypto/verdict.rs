//! Signature verdicts remembered per thread. A verification is a pure function of (scheme,
//! public key, signed bytes, signature), so a thread that reached a verdict once (or made the
//! signature itself: ECDSA is correct) answers again with a hash instead of the curve
//! arithmetic. The simulated CPU cost is charged by the cost model either way, so the memo
//! changes wall time only, never a verdict or an outcome. One memo for every scheme; the key
//! names the scheme, so a certificate's and a token's verdicts never meet.

use std::cell::RefCell;
use std::collections::BTreeMap;

/// Verdicts a thread keeps before the memo starts over.
pub const MEMO_MAX: usize = 1 << 15;

thread_local! {
    /// Memo key → whether the signature verified.
    static VERDICTS: RefCell<BTreeMap<[u8; 32], bool>> = const { RefCell::new(BTreeMap::new()) };
}

/// The memo key: SHA-256 over (scheme, public key, length of the signed bytes, the signed
/// bytes, the signature).
pub fn key(scheme: &[u8], public_key: &[u8], signed: &[u8], signature: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(scheme);
    h.update(public_key);
    h.update((signed.len() as u64).to_be_bytes());
    h.update(signed);
    h.update(signature);
    h.finalize().into()
}

/// The verdict remembered under `key`, if any.
pub fn get(key: &[u8; 32]) -> Option<bool> {
    VERDICTS.with(|m| m.borrow().get(key).copied())
}

/// Remembers a verdict (the memo starts over when full).
pub fn remember(key: [u8; 32], ok: bool) {
    VERDICTS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMO_MAX {
            m.clear();
        }
        m.insert(key, ok);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_schemes_and_inputs_and_the_memo_returns_what_was_remembered() {
        let k = key(b"cert", b"pk", b"tbs", b"sig");
        assert_ne!(k, key(b"jws", b"pk", b"tbs", b"sig"));
        assert_ne!(k, key(b"cert", b"pk", b"tbsx", b"sig"));
        // The length prefix: moving a byte from the signed bytes to the signature differs.
        assert_ne!(key(b"cert", b"pk", b"ab", b"c"), key(b"cert", b"pk", b"a", b"bc"));
        assert_eq!(get(&k), None);
        remember(k, false);
        assert_eq!(get(&k), Some(false));
        remember(k, true);
        assert_eq!(get(&k), Some(true));
    }
}
