//! The two hashes spaCy's model depends on: the string store's 64-bit ids (MurmurHash64A, seed 1,
//! or a reserved symbol id) and thinc's embedding-row keys (MurmurHash3 of the id).

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::LazyLock;

use super::symbols::SYMBOLS;

static SYMBOL_IDS: LazyLock<HashMap<&'static str, u64>> =
    LazyLock::new(|| SYMBOLS.iter().enumerate().map(|(id, name)| (*name, id as u64)).collect());

/// The id spaCy's string store gives a string: the empty string and reserved symbols have fixed
/// small ids, every other string its hash.
pub(crate) fn string_id(s: &str) -> u64 {
    match SYMBOL_IDS.get(s) {
        Some(&id) => id,
        None => murmur_hash64a(s.as_bytes(), 1),
    }
}

/// MurmurHash64A (Austin Appleby's MurmurHash2, 64-bit version), as spaCy's `hash_string` uses it.
/// Written here because the one crate that has it (`murmurhash64`) pulls in rand 0.3; the
/// algorithm is a dozen lines and the tests pin it to values spaCy computes.
fn murmur_hash64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for block in &mut blocks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(block);
        let mut k = u64::from_le_bytes(bytes);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// thinc's `ops.hash(ids, seed)` for one id: MurmurHash3 x64_128 of its eight little-endian
/// bytes, as four 32-bit keys (each then taken modulo the embedding table's rows). thinc names
/// its function `MurmurHash3_x86_128_uint64`, but it computes the x64 variant.
pub(crate) fn embedding_keys(id: u64, seed: u32) -> [u32; 4] {
    let bytes = id.to_le_bytes();
    // Reading from an in-memory cursor cannot fail.
    let hash = murmur3::murmur3_x64_128(&mut Cursor::new(&bytes[..]), seed).unwrap_or(0);
    [hash as u32, (hash >> 32) as u32, (hash >> 64) as u32, (hash >> 96) as u32]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values computed by spaCy 3.8 (`spacy.strings.get_string_id`) and thinc 8.3
    // (`NumpyOps().hash`).
    #[test]
    fn string_ids_match_spacy() {
        assert_eq!(string_id("Satya"), 6_887_717_765_040_109_723);
        assert_eq!(string_id(""), 0);
        assert_eq!(string_id("X"), 101);
        assert_eq!(string_id("nsubj"), 429);
    }

    #[test]
    fn embedding_keys_match_thinc() {
        assert_eq!(embedding_keys(string_id("satya"), 8), [2_805_153_024, 2_942_506_800, 4_207_729_536, 2_266_276_552]);
    }
}
