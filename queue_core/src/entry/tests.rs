//! Tests of the entry-token verifier: every way a token fails has its own error.

use super::*;

const NOW: i64 = 1_767_225_600;
const ROOM: &str = "impfzentrum-berlin";
const SEED_A: [u8; 32] = [7; 32];
const SEED_B: [u8; 32] = [9; 32];

fn verifier() -> EntryVerifier {
    let keys = vec![
        ("portal-2".to_owned(), public_key_of(&SEED_B).unwrap().into_bytes()),
        ("portal-1".to_owned(), public_key_of(&SEED_A).unwrap().into_bytes()),
    ];
    EntryVerifier::new(EntryAlgorithm::EdDsa, keys).unwrap()
}

fn token_with(kid: &str, seed: &[u8], room: &str, jti: &str, iat: i64, exp: i64) -> String {
    sign(EntryAlgorithm::EdDsa, seed, kid, room, "person-42", jti, iat, exp).unwrap()
}

fn token(jti: &str) -> String {
    token_with("portal-1", &SEED_A, ROOM, jti, NOW - 10, NOW + 300)
}

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

#[test]
fn a_valid_token_gives_its_claims_and_is_accepted_once() {
    let v = verifier();
    let claims = v.accept(&token("j1"), ROOM, NOW).unwrap();
    assert_eq!(claims.sub, "person-42");
    assert_eq!(claims.jti, "j1");
    assert_eq!((claims.issued_at, claims.expires_at), (NOW - 10, NOW + 300));
    assert_eq!(v.accept(&token("j1"), ROOM, NOW + 1), Err(CoreError::EntryReplayed));
    // A new token for the same person is a new jti: accepted.
    assert!(v.accept(&token("j2"), ROOM, NOW + 1).is_ok());
    // verify alone does not use the jti up.
    assert!(v.verify(&token("j1"), ROOM, NOW + 2).is_ok());
}

#[test]
fn every_key_of_a_rotation_verifies() {
    let v = verifier();
    assert!(v.verify(&token_with("portal-2", &SEED_B, ROOM, "x", NOW, NOW + 60), ROOM, NOW).is_ok());
    assert!(v.verify(&token_with("portal-1", &SEED_A, ROOM, "y", NOW, NOW + 60), ROOM, NOW).is_ok());
}

#[test]
fn each_failure_has_its_error() {
    let v = verifier();
    let wrong_key = token_with("portal-1", &SEED_B, ROOM, "a", NOW, NOW + 60);
    assert_eq!(v.verify(&wrong_key, ROOM, NOW), Err(CoreError::EntryBadSignature));
    let unknown = token_with("portal-9", &SEED_A, ROOM, "a", NOW, NOW + 60);
    assert_eq!(v.verify(&unknown, ROOM, NOW), Err(CoreError::EntryUnknownKey("portal-9".into())));
    let other_room = token_with("portal-1", &SEED_A, "elsewhere", "a", NOW, NOW + 60);
    assert_eq!(v.verify(&other_room, ROOM, NOW), Err(CoreError::EntryWrongAudience));
    assert_eq!(v.verify(&token("a"), ROOM, NOW + 300), Err(CoreError::EntryExpired));
    let long = token_with("portal-1", &SEED_A, ROOM, "a", NOW, NOW + MAX_LIFETIME_SECONDS + 1);
    assert_eq!(v.verify(&long, ROOM, NOW), Err(CoreError::EntryLifetimeTooLong { max_seconds: MAX_LIFETIME_SECONDS }));
    let hs = sign(EntryAlgorithm::Hs256, &[1; 32], "portal-1", ROOM, "p", "a", NOW, NOW + 60).unwrap();
    assert_eq!(v.verify(&hs, ROOM, NOW), Err(CoreError::EntryWrongAlgorithm("HS256".into())));
    let claims = format!(r#"{{"aud":"{ROOM}","sub":"p","jti":"n","iat":{NOW},"exp":{}}}"#, NOW + 60);
    let none = format!("{}.{}.", b64(r#"{"alg":"none","kid":"portal-1"}"#), b64(&claims));
    assert_eq!(v.verify(&none, ROOM, NOW), Err(CoreError::EntryWrongAlgorithm("none".into())));
}

#[test]
fn a_changed_payload_breaks_the_signature() {
    let v = verifier();
    let good = token("a");
    let parts: Vec<&str> = good.split('.').collect();
    let forged_claims = format!(r#"{{"aud":"{ROOM}","sub":"someone-else","jti":"a","iat":{NOW},"exp":{}}}"#, NOW + 60);
    let forged = format!("{}.{}.{}", parts[0], b64(&forged_claims), parts[2]);
    assert_eq!(v.verify(&forged, ROOM, NOW), Err(CoreError::EntryBadSignature));
}

#[test]
fn malformed_input_is_refused_without_panicking() {
    let v = verifier();
    for bad in ["", "a", "a.b", "a.b.c.d", "!!!.b.c", &"x".repeat(MAX_ENTRY_TOKEN_LEN + 1)] {
        assert!(matches!(v.verify(bad, ROOM, NOW), Err(CoreError::EntryMalformed(_))), "{bad:.40}");
    }
    let header = b64(r#"{"alg":"EdDSA","kid":"portal-1"}"#);
    assert!(matches!(v.verify(&format!("{header}.e30.AAAA"), ROOM, NOW), Err(CoreError::EntryBadSignature)));
    let crit = b64(r#"{"alg":"EdDSA","kid":"portal-1","crit":["x"]}"#);
    assert!(matches!(v.verify(&format!("{crit}.e30.AA"), ROOM, NOW), Err(CoreError::EntryMalformed(_))));
}

#[test]
fn required_claims_are_checked_after_the_signature() {
    let v = verifier();
    let signing = SigningKey::from_bytes(&SEED_A);
    let signed = |claims: &str| {
        let body = format!("{}.{}", b64(r#"{"alg":"EdDSA","kid":"portal-1"}"#), b64(claims));
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(signing.sign(body.as_bytes()).to_bytes()))
    };
    let missing_jti = signed(&format!(r#"{{"aud":"{ROOM}","sub":"p","iat":{NOW},"exp":{}}}"#, NOW + 60));
    assert!(matches!(v.verify(&missing_jti, ROOM, NOW), Err(CoreError::EntryMalformed(m)) if m.contains("jti")));
    let missing_iat = signed(&format!(r#"{{"aud":"{ROOM}","sub":"p","jti":"j","exp":{}}}"#, NOW + 60));
    assert!(matches!(v.verify(&missing_iat, ROOM, NOW), Err(CoreError::EntryMalformed(m)) if m.contains("iat")));
    let array_aud = signed(&format!(r#"{{"aud":["x","{ROOM}"],"sub":"p","jti":"j","iat":{NOW},"exp":{}}}"#, NOW + 60));
    assert!(v.verify(&array_aud, ROOM, NOW).is_ok());
    let future = signed(&format!(r#"{{"aud":"{ROOM}","sub":"p","jti":"j","iat":{},"exp":{}}}"#, NOW + 600, NOW + 900));
    assert!(matches!(v.verify(&future, ROOM, NOW), Err(CoreError::EntryMalformed(_))));
}

#[test]
fn hs256_works_only_where_pinned() {
    let secret = b"a-shared-secret-of-32-bytes-or-more!".to_vec();
    let v = EntryVerifier::new(EntryAlgorithm::Hs256, vec![("s1".into(), secret.clone())]).unwrap();
    let good = sign(EntryAlgorithm::Hs256, &secret, "s1", ROOM, "p", "j", NOW, NOW + 60).unwrap();
    assert!(v.accept(&good, ROOM, NOW).is_ok());
    let ed = token("k");
    assert_eq!(v.verify(&ed, ROOM, NOW), Err(CoreError::EntryWrongAlgorithm("EdDSA".into())));
    assert!(matches!(
        EntryVerifier::new(EntryAlgorithm::Hs256, vec![("s1".into(), b"short".to_vec())]),
        Err(CoreError::InvalidConfig(_))
    ));
}

#[test]
fn keys_are_read_as_raw_base64url_or_pem() {
    let raw = public_key_of(&SEED_A).unwrap();
    let der = [SPKI_ED25519_PREFIX.as_slice(), &URL_SAFE_NO_PAD.decode(&raw).unwrap()].concat();
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", STANDARD.encode(der));
    let v = EntryVerifier::new(EntryAlgorithm::EdDsa, vec![("portal-1".into(), pem.into_bytes())]).unwrap();
    assert!(v.verify(&token("p"), ROOM, NOW).is_ok());
    let bad = EntryVerifier::new(EntryAlgorithm::EdDsa, vec![("k".into(), b"not-a-key".to_vec())]);
    assert!(matches!(bad, Err(CoreError::InvalidConfig(m)) if m.contains("entry_keys.k")));
}

#[test]
fn the_replay_store_forgets_expired_tokens_and_is_bounded() {
    let mut store = ReplayStore::new(2);
    store.use_once("a", NOW + 10, NOW).unwrap();
    store.use_once("b", NOW + 20, NOW).unwrap();
    assert_eq!(store.use_once("c", NOW + 30, NOW), Err(CoreError::EntryStoreFull));
    store.use_once("c", NOW + 30, NOW + 10).unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(store.use_once("b", NOW + 20, NOW + 11), Err(CoreError::EntryReplayed));
}
