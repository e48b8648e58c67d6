//! Base45 (RFC 9285): bytes as text in the 45-character alphabet of the QR alphanumeric mode,
//! so a QR code stores 2 bytes in 3 characters at 5.5 bits a character.

/// The Base45 alphabet of RFC 9285, where a character's position is its value.
const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Text that is not valid Base45.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base45Error {
    #[error("invalid Base45 character {character:?} at position {position}: the alphabet is 0-9, A-Z, space and $%*+-./:")]
    InvalidCharacter { character: char, position: usize },
    #[error("invalid Base45 length {0}: the number of characters must leave a remainder of 0 or 2 when divided by 3")]
    InvalidLength(usize),
    #[error("invalid Base45 group at position {position}: its value {value} exceeds {max}")]
    Overflow {
        position: usize,
        value: u32,
        max: u32,
    },
}

/// Encodes `bytes` as Base45: every 2 bytes become 3 characters, a last single byte 2 characters.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(2) * 3);
    let mut pairs = bytes.chunks_exact(2);
    for pair in &mut pairs {
        let value = u32::from(pair[0]) * 256 + u32::from(pair[1]);
        push_digits(&mut text, value, 3);
    }
    if let [last] = pairs.remainder() {
        push_digits(&mut text, u32::from(*last), 2);
    }
    text
}

/// Pushes `count` base-45 digits of `value`, least significant first, as RFC 9285 orders them.
fn push_digits(text: &mut String, mut value: u32, count: usize) {
    for _ in 0..count {
        // The remainder is below 45, so the index is always inside the alphabet.
        text.push(char::from(ALPHABET[(value % 45) as usize]));
        value /= 45;
    }
}

/// Decodes Base45 text, rejecting characters outside the alphabet, a length that leaves a
/// remainder of 1, and groups whose value exceeds the bytes they encode.
pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let digits = text
        .chars()
        .enumerate()
        .map(|(position, character)| {
            digit_value(character).ok_or(Base45Error::InvalidCharacter {
                character,
                position,
            })
        })
        .collect::<Result<Vec<u32>, _>>()?;
    if digits.len() % 3 == 1 {
        return Err(Base45Error::InvalidLength(digits.len()));
    }

    let mut bytes = Vec::with_capacity(digits.len() / 3 * 2 + 1);
    for (index, group) in digits.chunks(3).enumerate() {
        let position = index * 3;
        match *group {
            [c, d, e] => {
                let value = c + d * 45 + e * 45 * 45;
                let [high, low] = u16::try_from(value)
                    .map_err(|_| Base45Error::Overflow {
                        position,
                        value,
                        max: u32::from(u16::MAX),
                    })?
                    .to_be_bytes();
                bytes.extend_from_slice(&[high, low]);
            }
            [c, d] => {
                let value = c + d * 45;
                let byte = u8::try_from(value).map_err(|_| Base45Error::Overflow {
                    position,
                    value,
                    max: u32::from(u8::MAX),
                })?;
                bytes.push(byte);
            }
            // The length check above leaves only groups of 3 and a last group of 2.
            _ => return Err(Base45Error::InvalidLength(digits.len())),
        }
    }
    Ok(bytes)
}

fn digit_value(character: char) -> Option<u32> {
    let byte = u8::try_from(character).ok()?;
    ALPHABET
        .iter()
        .position(|&candidate| candidate == byte)
        .and_then(|position| u32::try_from(position).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding and decoding examples of RFC 9285.
    const RFC_VECTORS: [(&str, &str); 4] = [
        ("AB", "BB8"),
        ("Hello!!", "%69 VD92EX0"),
        ("base-45", "UJCLQE7W581"),
        ("ietf!", "QED8WEX0"),
    ];

    #[test]
    fn encode_rfc_vectors() {
        for (plain, encoded) in RFC_VECTORS {
            assert_eq!(encode(plain.as_bytes()), encoded, "encoding {plain:?}");
        }
    }

    #[test]
    fn decode_rfc_vectors() {
        for (plain, encoded) in RFC_VECTORS {
            assert_eq!(
                decode(encoded).unwrap(),
                plain.as_bytes(),
                "decoding {encoded:?}"
            );
        }
    }

    #[test]
    fn round_trip_every_byte() {
        let bytes: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
        for length in [0, 1, 2, 3, bytes.len() - 1, bytes.len()] {
            let slice = &bytes[..length];
            assert_eq!(decode(&encode(slice)).unwrap(), slice, "length {length}");
        }
    }

    #[test]
    fn decode_rejects_invalid_character() {
        // Lowercase letters are not in the alphabet.
        assert_eq!(
            decode("bb8"),
            Err(Base45Error::InvalidCharacter {
                character: 'b',
                position: 0
            })
        );
    }

    #[test]
    fn decode_rejects_dangling_character() {
        assert_eq!(decode("BB8B"), Err(Base45Error::InvalidLength(4)));
    }

    #[test]
    fn decode_rejects_overflow() {
        // "GGW" is 16 + 16 * 45 + 32 * 2025 = 65536, one more than two bytes can contain.
        assert_eq!(
            decode("GGW"),
            Err(Base45Error::Overflow {
                position: 0,
                value: 65536,
                max: 65535
            })
        );
        assert!(matches!(decode(":6"), Err(Base45Error::Overflow { .. })));
    }
}
