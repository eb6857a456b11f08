//! The registry identity in forms people can compare: hex in groups of
//! four, and words to read aloud over a phone.

use crate::keys::group4;

/// The identity as hex in groups of four digits.
pub fn grouped(identity_hex: &str) -> String {
    group4(identity_hex)
}

/// Twelve BIP-39 English words encoding the first 128 bits of the identity
/// (the twelfth word also carries a 4-bit checksum of those bits). A person
/// reading them aloud compares 128 bits, enough that no attacker can make a
/// different root match.
pub fn words(identity_hex: &str) -> Option<String> {
    let bytes = hex::decode(identity_hex).ok()?;
    let first: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
    let m = bip39::Mnemonic::from_entropy(&first).ok()?;
    Some(m.words().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn twelve_words_stable() {
        let id = "00".repeat(32);
        let w = super::words(&id).unwrap();
        assert_eq!(w.split(' ').count(), 12);
        assert!(w.starts_with("abandon abandon"));
        assert_ne!(super::words(&"01".repeat(32)).unwrap(), w);
        assert_eq!(super::words("zz"), None);
    }
}
