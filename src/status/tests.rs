use super::*;

#[test]
fn token_entries_packed_from_least_significant_bits() {
    let bytes = token::pack(12, [(0, token::INVALID), (1, token::SUSPENDED), (7, 3)]);
    assert_eq!(bytes.len(), 3);
    assert_eq!(bytes[0], 0b0000_1001);
    assert_eq!(bytes[1], 0b1100_0000);
    assert_eq!(token::value_at(&bytes, 2, 0), Some(token::INVALID));
    assert_eq!(token::value_at(&bytes, 2, 1), Some(token::SUSPENDED));
    assert_eq!(token::value_at(&bytes, 2, 2), Some(token::VALID));
    assert_eq!(token::value_at(&bytes, 2, 7), Some(3));
    assert_eq!(token::value_at(&bytes, 2, 12), None);
}

#[test]
fn token_lst_round_trip() {
    let bytes = token::pack(LIST_SIZE, [(5, token::INVALID), (LIST_SIZE - 1, 2)]);
    let lst = token::encode_lst(&bytes).unwrap();
    assert_eq!(token::decode_lst(&lst).unwrap(), bytes);
    assert!(token::decode_lst("not base64!").is_err());
}

#[test]
fn bitstring_index_zero_is_leftmost_bit() {
    let bytes = bitstring::pack(16, [0, 9]);
    assert_eq!(bytes, [0x80, 0x40]);
    assert_eq!(bitstring::bit_at(&bytes, 0), Some(true));
    assert_eq!(bitstring::bit_at(&bytes, 1), Some(false));
    assert_eq!(bitstring::bit_at(&bytes, 9), Some(true));
    assert_eq!(bitstring::bit_at(&bytes, 16), None);
}

#[test]
fn bitstring_encoded_list_round_trip() {
    let bytes = bitstring::pack(LIST_SIZE, [3, 70_000]);
    assert_eq!(bytes.len() * 8, bitstring::MIN_BITS);
    let encoded = bitstring::encode_list(&bytes).unwrap();
    assert!(encoded.starts_with('u'));
    assert!(!encoded.contains('='));
    assert_eq!(bitstring::decode_list(&encoded).unwrap(), bytes);
    assert!(bitstring::decode_list(&encoded[1..]).is_err());
}

#[test]
fn allocator_moves_on_when_list_full() {
    let allocator = StatusAllocator::new(Some((3, allocator::FILL_LIMIT - 1)));
    let entry = allocator.candidate();
    assert_eq!(entry.list, 3);
    assert!(entry.index < LIST_SIZE);
    allocator.taken(entry);
    assert_eq!(allocator.candidate().list, 4);
    assert_eq!(StatusAllocator::new(None).candidate().list, 0);
}

#[test]
fn allocator_moves_on_after_collisions() {
    let allocator = StatusAllocator::new(Some((0, 10)));
    for _ in 0..8 {
        let entry = allocator.candidate();
        assert_eq!(entry.list, 0);
        allocator.collided(entry);
    }
    assert_eq!(allocator.candidate().list, 1);
}

#[test]
fn allocator_indices_are_not_sequential() {
    let allocator = StatusAllocator::new(None);
    let indices: Vec<u32> = (0..20).map(|_| allocator.candidate().index).collect();
    let ascending = indices.windows(2).all(|pair| pair[1] == pair[0] + 1);
    assert!(!ascending, "{indices:?}");
    let distinct: std::collections::HashSet<u32> = indices.iter().copied().collect();
    assert!(distinct.len() > 15, "{indices:?}");
}

#[test]
fn status_claim_urls() {
    let claim = StatusEntry { list: 2, index: 17 }.claim("https://intyg.example.se");
    assert_eq!(claim.token_list_uri, "https://intyg.example.se/status/2");
    assert_eq!(
        claim.revocation_list_uri,
        "https://intyg.example.se/status/2/revocation"
    );
    assert_eq!(
        claim.suspension_list_uri,
        "https://intyg.example.se/status/2/suspension"
    );
}
