use super::*;

const NOW: i64 = 1_700_000_000;
const NONCE: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

fn signer(keys: &[(&str, &str)]) -> Signer {
    Signer::new(keys.iter().map(|(k, s)| ((*k).to_owned(), s.as_bytes().to_vec())).collect()).unwrap()
}

fn k1() -> Signer {
    signer(&[("k1", "0123456789abcdef-secret")])
}

fn solution(c: &Challenge, number: u64) -> Solution<'_> {
    Solution { algorithm: ALGORITHM, challenge: &c.challenge, number, salt: &c.salt, signature: &c.signature }
}

#[test]
fn matches_the_altcha_library_byte_for_byte() {
    // The values of altcha 2.3 (Python, v1 API) for the derived key, this salt and number 42.
    let c = create_with(&k1(), "kiel", 100_000, NOW, &NONCE, 42);
    assert_eq!(c.salt, "000102030405060708090a0b?expires=1700000300&room=kiel&kid=k1&");
    assert_eq!(c.challenge, "38a6124876c8a610c2720e9730796da3ecb9d5ea4023f2d39670708172b010c4");
    assert_eq!(c.signature, "6c258af5048c72df222cc5468e8cf08ac683df82b7801b089452acb2c36422b0");
    assert_eq!(c.expires_at, NOW + CHALLENGE_SECONDS);
}

#[test]
fn the_hidden_number_verifies_until_the_expiry() {
    let s = k1();
    let c = create_with(&s, "kiel", 100_000, NOW, &NONCE, 42);
    assert_eq!(verify(&s, &solution(&c, 42), "kiel", NOW), Ok(c.expires_at));
    assert_eq!(verify(&s, &solution(&c, 42), "kiel", c.expires_at - 1), Ok(c.expires_at));
    assert_eq!(verify(&s, &solution(&c, 42), "kiel", c.expires_at), Err(CoreError::ChallengeExpired));
}

#[test]
fn each_failure_has_its_error() {
    let s = k1();
    let c = create_with(&s, "kiel", 100_000, NOW, &NONCE, 42);
    assert_eq!(verify(&s, &solution(&c, 41), "kiel", NOW), Err(CoreError::ChallengeUnsolved));
    assert_eq!(verify(&s, &solution(&c, 42), "berlin", NOW), Err(CoreError::ChallengeWrongRoom));
    let forged = signer(&[("k1", "another-secret-of-16")]);
    assert_eq!(verify(&forged, &solution(&c, 42), "kiel", NOW), Err(CoreError::ChallengeBadSignature));
    let other_kid = signer(&[("k2", "0123456789abcdef-secret")]);
    assert_eq!(verify(&other_kid, &solution(&c, 42), "kiel", NOW), Err(CoreError::ChallengeBadSignature));
    let mut flipped = c.signature.clone();
    flipped.replace_range(0..1, if flipped.starts_with('0') { "1" } else { "0" });
    let sol = Solution { signature: &flipped, ..solution(&c, 42) };
    assert_eq!(verify(&s, &sol, "kiel", NOW), Err(CoreError::ChallengeBadSignature));
    // Moving the challenge to another room or a later expiry changes its hash.
    let moved = c.salt.replace("room=kiel", "room=kiel2");
    let sol = Solution { salt: &moved, ..solution(&c, 42) };
    assert_eq!(verify(&s, &sol, "kiel2", NOW), Err(CoreError::ChallengeUnsolved));
    let later = c.salt.replace("expires=1700000300", "expires=1800000000");
    let sol = Solution { salt: &later, ..solution(&c, 42) };
    assert_eq!(verify(&s, &sol, "kiel", NOW + 1000), Err(CoreError::ChallengeUnsolved));
}

#[test]
fn malformed_solutions_are_named() {
    let s = k1();
    let c = create_with(&s, "kiel", 100_000, NOW, &NONCE, 42);
    let bad_salts = [
        String::new(),
        "00?".to_owned(),
        "xyz?expires=1&room=kiel&kid=k1&".to_owned(),
        "00?room=kiel&kid=k1&".to_owned(),
        "00?expires=-5&room=kiel&kid=k1&".to_owned(),
        "00?expires=99999999999999999999&room=kiel&kid=k1&".to_owned(),
        "00?expires=1&room=kiel&room=x&kid=k1&".to_owned(),
        format!("00?expires=1&room=kiel&kid=k1&x={}", "a".repeat(300)),
    ];
    for salt in &bad_salts {
        let sol = Solution { salt, ..solution(&c, 42) };
        assert!(matches!(verify(&s, &sol, "kiel", NOW), Err(CoreError::ChallengeMalformed(_))), "{salt:?}");
    }
    let sol = Solution { algorithm: "SHA-1", ..solution(&c, 42) };
    assert!(matches!(verify(&s, &sol, "kiel", NOW), Err(CoreError::ChallengeMalformed(_))));
    let sol = Solution { challenge: "abc", ..solution(&c, 42) };
    assert!(matches!(verify(&s, &sol, "kiel", NOW), Err(CoreError::ChallengeMalformed(_))));
}

#[test]
fn a_rotated_key_still_verifies_its_challenges() {
    let old = k1();
    let c = create_with(&old, "kiel", 100_000, NOW, &NONCE, 7);
    let rotated = signer(&[("k2", "a-newer-secret-of-16"), ("k1", "0123456789abcdef-secret")]);
    assert_eq!(verify(&rotated, &solution(&c, 7), "kiel", NOW), Ok(c.expires_at));
    assert!(create_with(&rotated, "kiel", 100_000, NOW, &NONCE, 7).salt.contains("&kid=k2&"));
}

#[test]
fn drawn_challenges_hide_a_number_in_range_and_differ() {
    let s = k1();
    let a = create(&s, "kiel", 10_000, NOW).unwrap();
    let b = create(&s, "kiel", 10_000, NOW).unwrap();
    assert_ne!(a.salt, b.salt);
    let found = (0..=10_000u64).find(|n| hash_hex(&a.salt, *n) == a.challenge);
    assert!(found.is_some());
    assert_eq!(verify(&s, &solution(&a, found.unwrap()), "kiel", NOW), Ok(a.expires_at));
}
