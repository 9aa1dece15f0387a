//! Tests of the token format, its checks and key rotation.

use super::*;
use proptest::prelude::*;

const NOW: i64 = 1_767_225_600;
const ROOM: &str = "impfzentrum-berlin";

fn key(kid: &str, secret: &[u8]) -> (String, Vec<u8>) {
    (kid.to_owned(), secret.to_vec())
}

fn signer() -> Signer {
    Signer::new(vec![key("k2", b"second-secret-0123456789"), key("k1", b"first-secret-0123456789")]).unwrap()
}

fn pass_claims() -> Claims {
    Claims {
        kind: TokenKind::Pass,
        room: ROOM.to_owned(),
        ticket: 4_711,
        issued_at: NOW,
        expires_at: NOW + 900,
        subject: None,
    }
}

/// A token with a valid MAC over any payload, to show that the parser, not the MAC, rejects
/// bad payloads.
fn assemble(signer: &Signer, kid: &str, payload: &[u8]) -> String {
    let key = signer.keys.iter().find(|k| k.kid == kid).unwrap();
    let tag = mac_tag(&key.mac, kid, payload);
    format!("{kid}.{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
}

fn payload_of(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()
}

#[test]
fn kind_names_round_trip() {
    for kind in [TokenKind::Ticket, TokenKind::Pass] {
        assert_eq!(TokenKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(TokenKind::Ticket.as_str(), "ticket");
    assert_eq!(TokenKind::Pass.as_str(), "pass");
    assert_eq!(TokenKind::parse("Pass"), None);
}

#[test]
fn signed_claims_verify_to_the_same_claims() {
    let s = signer();
    let claims = pass_claims();
    let token = s.sign(&claims);
    assert_eq!(s.verify(&token, NOW, Some(ROOM), Some(TokenKind::Pass)), Ok(claims.clone()));
    assert_eq!(s.verify(&token, NOW, None, None), Ok(claims.clone()));
    assert_eq!(s.verify_fast(&token, NOW, ROOM, Some(TokenKind::Pass)), Ok((TokenKind::Pass, 4_711, NOW, NOW + 900)));
    assert_eq!(s.verify_fast(&token, NOW, ROOM, None), Ok((TokenKind::Pass, 4_711, NOW, NOW + 900)));
}

#[test]
fn tokens_are_compact_url_safe_and_name_their_key() {
    let token = signer().sign(&pass_claims());
    assert!(token.starts_with("k2."), "{token}");
    assert_eq!(token.split('.').count(), 3);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{token}");
    assert!(token.len() <= 70, "{} chars: {token}", token.len());
    assert_eq!(token.rsplit('.').next().unwrap().len(), MAC_B64_LEN);
}

#[test]
fn signing_is_deterministic() {
    let s = signer();
    assert_eq!(s.sign(&pass_claims()), s.sign(&pass_claims()));
}

#[test]
fn valid_until_just_before_expiry_and_expired_exactly_at_it() {
    let s = signer();
    let token = s.sign(&pass_claims());
    let expires_at = NOW + 900;
    assert!(s.verify(&token, expires_at - 1, Some(ROOM), None).is_ok());
    assert_eq!(s.verify(&token, expires_at, Some(ROOM), None), Err(CoreError::TokenExpired));
    assert_eq!(s.verify_fast(&token, expires_at, ROOM, None), Err(CoreError::TokenExpired));
    assert_eq!(s.verify(&token, i64::MAX, None, None), Err(CoreError::TokenExpired));
}

#[test]
fn wrong_room_and_wrong_kind_are_told_apart() {
    let s = signer();
    let token = s.sign(&pass_claims());
    assert_eq!(s.verify(&token, NOW, Some("other-room"), None), Err(CoreError::TokenWrongRoom));
    assert_eq!(s.verify_fast(&token, NOW, "other-room", None), Err(CoreError::TokenWrongRoom));
    // A prefix of the room is another room.
    assert_eq!(s.verify_fast(&token, NOW, "impfzentrum", None), Err(CoreError::TokenWrongRoom));
    assert_eq!(s.verify(&token, NOW, Some(ROOM), Some(TokenKind::Ticket)), Err(CoreError::TokenWrongKind));
    assert_eq!(s.verify_fast(&token, NOW, ROOM, Some(TokenKind::Ticket)), Err(CoreError::TokenWrongKind));
}

#[test]
fn checks_run_in_the_documented_order() {
    let s = signer();
    let token = s.sign(&pass_claims());
    let late = NOW + 10_000;
    // Kind before room before expiry.
    assert_eq!(s.verify(&token, late, Some("other"), Some(TokenKind::Ticket)), Err(CoreError::TokenWrongKind));
    assert_eq!(s.verify(&token, late, Some("other"), None), Err(CoreError::TokenWrongRoom));
    // The signature before any claim: a forged token learns nothing about its claims.
    let forged = format!("{}AAAAAAAAAAAAAAAAAAAAAA", &token[..token.len() - MAC_B64_LEN]);
    assert_eq!(s.verify(&forged, late, Some("other"), Some(TokenKind::Ticket)), Err(CoreError::TokenBadSignature));
    // The key before the signature, the format before the key.
    let unknown = format!("zz{}", &forged[2..]);
    assert_eq!(s.verify(&unknown, late, None, None), Err(CoreError::TokenUnknownKey("zz".into())));
    let malformed = format!("zz{}", &forged[2..forged.len() - 1]);
    assert_eq!(s.verify(&malformed, late, None, None), Err(CoreError::TokenMalformed));
}

#[test]
fn a_token_of_an_unknown_key_names_the_key() {
    let old = Signer::new(vec![key("old", b"old-secret-0123456789")]).unwrap();
    let token = old.sign(&pass_claims());
    assert_eq!(signer().verify(&token, NOW, None, None), Err(CoreError::TokenUnknownKey("old".into())));
    assert_eq!(signer().verify_fast(&token, NOW, ROOM, None), Err(CoreError::TokenUnknownKey("old".into())));
}

#[test]
fn the_same_kid_with_another_secret_is_a_bad_signature() {
    let impostor = Signer::new(vec![key("k2", b"not-the-real-secret!")]).unwrap();
    let token = impostor.sign(&pass_claims());
    assert_eq!(signer().verify(&token, NOW, None, None), Err(CoreError::TokenBadSignature));
}

#[test]
fn relabelling_a_token_with_another_kid_breaks_its_signature() {
    // Even with the same secret under both ids, the kid is part of what is signed.
    let s = Signer::new(vec![key("a", b"shared-secret-0123456789"), key("b", b"shared-secret-0123456789")]).unwrap();
    let token = s.sign(&pass_claims());
    assert!(s.verify(&token, NOW, None, None).is_ok());
    let relabelled = format!("b{}", &token[1..]);
    assert_eq!(s.verify(&relabelled, NOW, None, None), Err(CoreError::TokenBadSignature));
}

#[test]
fn rotation_keeps_old_tokens_valid() {
    let before = Signer::new(vec![key("k1", b"first-secret-0123456789")]).unwrap();
    let old_token = before.sign(&pass_claims());
    let after = signer();
    assert_eq!(after.key_ids(), vec!["k2", "k1"]);
    assert_eq!(after.verify(&old_token, NOW, Some(ROOM), None), Ok(pass_claims()));
    let new_token = after.sign(&pass_claims());
    assert!(new_token.starts_with("k2."));
    // Until the old key is dropped, after which its tokens name an unknown key.
    assert_eq!(before.verify(&new_token, NOW, None, None), Err(CoreError::TokenUnknownKey("k2".into())));
}

#[test]
fn changing_any_single_character_never_yields_a_valid_token() {
    let s = signer();
    let token = s.sign(&pass_claims());
    let bytes = token.as_bytes();
    for index in 0..bytes.len() {
        for replacement in 0x20u8..0x7f {
            if replacement == bytes[index] {
                continue;
            }
            let mut changed = bytes.to_vec();
            changed[index] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            let result = s.verify(&changed, NOW, None, None);
            let in_kid = index < 2;
            match result {
                Err(CoreError::TokenMalformed | CoreError::TokenBadSignature) => {}
                Err(CoreError::TokenUnknownKey(_)) if in_kid => {}
                other => panic!("{changed:?} gave {other:?}"),
            }
        }
    }
}

#[test]
fn flipping_any_bit_of_the_payload_or_mac_never_verifies() {
    let s = signer();
    let token = s.sign(&pass_claims());
    let payload = payload_of(&token);
    let tag = URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap();
    for index in 0..payload.len() {
        for bit in 0..8 {
            let mut changed = payload.clone();
            changed[index] ^= 1 << bit;
            let forged = format!("k2.{}.{}", URL_SAFE_NO_PAD.encode(&changed), URL_SAFE_NO_PAD.encode(&tag));
            let result = s.verify(&forged, NOW, None, None);
            assert!(matches!(result, Err(CoreError::TokenMalformed | CoreError::TokenBadSignature)), "{result:?}");
        }
    }
    for index in 0..tag.len() {
        for bit in 0..8 {
            let mut changed = tag.clone();
            changed[index] ^= 1 << bit;
            let forged = format!("k2.{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(&changed));
            assert_eq!(s.verify(&forged, NOW, None, None), Err(CoreError::TokenBadSignature));
        }
    }
}

#[test]
fn text_that_is_not_a_token_is_malformed() {
    let s = signer();
    let token = s.sign(&pass_claims());
    let (kid_and_payload, tag) = token.rsplit_once('.').unwrap();
    let cases = [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        "k2..".into(),
        "k2.AQ.".into(),
        format!("{token}."),
        format!(".{token}"),
        format!("{token}.{tag}"),
        kid_and_payload.to_owned(),
        format!("{kid_and_payload}.{tag}A"),
        format!("{kid_and_payload}.{}", &tag[1..]),
        format!("{kid_and_payload}.{}=", &tag[..21]),
        format!("{kid_and_payload}.{}+", &tag[..21]),
        format!("{kid_and_payload}=.{tag}"),
        format!("{}.{}", "k".repeat(MAX_KID_LEN + 1), &token[3..]),
        format!("k 2.{}", &token[3..]),
        format!("kä.{}", &token[3..]),
        format!("{token}{}", "A".repeat(MAX_TOKEN_LEN)),
        format!("k2.{}.{tag}", "A".repeat(MAX_PAYLOAD_B64_LEN + 1)),
        "\u{0}".repeat(100),
        "é.é.é".into(),
    ];
    for case in cases {
        assert_eq!(s.verify(&case, NOW, None, None), Err(CoreError::TokenMalformed), "{case:?}");
        assert_eq!(s.verify_fast(&case, NOW, ROOM, None), Err(CoreError::TokenMalformed), "{case:?}");
    }
}

#[test]
fn the_last_mac_character_must_not_carry_stray_bits() {
    // 16 bytes take 21 full characters plus one that holds 2 bits; its 4 low bits must be
    // zero, so there is exactly one text for each token.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let s = signer();
    let token = s.sign(&pass_claims());
    let last = *token.as_bytes().last().unwrap();
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(value & 0b1111, 0);
    for spare_bit in 0..4 {
        let mut changed = token.clone().into_bytes();
        *changed.last_mut().unwrap() = ALPHABET[value | (1 << spare_bit)];
        let changed = String::from_utf8(changed).unwrap();
        assert_eq!(s.verify(&changed, NOW, None, None), Err(CoreError::TokenMalformed));
    }
}

#[test]
fn correctly_signed_but_ill_formed_payloads_are_malformed() {
    let s = signer();
    let good = payload_of(&s.sign(&pass_claims()));
    assert!(s.verify(&assemble(&s, "k2", &good), NOW, None, None).is_ok());

    let with = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut payload = good.clone();
        edit(&mut payload);
        payload
    };
    let room_len_at = good.len() - ROOM.len() - 1;
    // 4711 takes two varint bytes, so the issue time starts at index 4.
    let after_ticket = &good[4..];
    assert_eq!(&good[..4], &[FORMAT_VERSION, TokenKind::Pass as u8, 0xe7, 0x24]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("unknown version", with(&|p| p[0] = 2)),
        ("version zero", with(&|p| p[0] = 0)),
        ("unknown kind", with(&|p| p[1] = 3)),
        ("kind zero", with(&|p| p[1] = 0)),
        ("trailing byte", with(&|p| p.push(0))),
        (
            "missing room byte",
            with(&|p| {
                p.pop();
            }),
        ),
        ("missing room length", good[..room_len_at].to_vec()),
        ("room longer than allowed", {
            let mut p = good[..room_len_at].to_vec();
            p.push(MAX_ROOM_LEN as u8 + 1);
            p.extend(std::iter::repeat_n(b'r', MAX_ROOM_LEN + 1));
            p
        }),
        ("poisoned room length", {
            let mut p = good[..room_len_at].to_vec();
            p.push(POISONED_ROOM_LEN);
            p
        }),
        ("room not UTF-8", {
            let mut p = good[..room_len_at].to_vec();
            p.extend([2, 0xc3, 0x28]);
            p
        }),
        ("truncated ticket varint", vec![1, 2, 0x80]),
        ("truncated time varint", vec![1, 2, 5, 0xff, 0xff]),
        ("overlong ticket varint", {
            let mut p = vec![1, 2, 0xe7, 0xa4, 0x00];
            p.extend_from_slice(after_ticket);
            p
        }),
        ("ticket above u32", {
            let mut p = vec![1, 2, 0xff, 0xff, 0xff, 0xff, 0x1f];
            p.extend_from_slice(after_ticket);
            p
        }),
        ("varint above u64", {
            let mut p = vec![1, 2, 5];
            p.extend([0xff; 9]);
            p.push(0x02);
            p.extend([0, 0]);
            p
        }),
        ("varint of eleven bytes", {
            let mut p = vec![1, 2, 5];
            p.extend([0x80; 10]);
            p.extend([1, 0, 0]);
            p
        }),
    ];
    // The case names say which rule each payload breaks; the room length test needs a
    // payload that only the room breaks.
    assert_eq!(good[room_len_at] as usize, ROOM.len());
    for (name, payload) in cases {
        let token = assemble(&s, "k2", &payload);
        assert_eq!(s.verify(&token, NOW, None, None), Err(CoreError::TokenMalformed), "{name}");
        assert_eq!(s.verify_fast(&token, NOW, ROOM, None), Err(CoreError::TokenMalformed), "{name}");
    }
}

#[test]
fn a_room_of_the_maximum_length_round_trips() {
    let s = signer();
    let claims = Claims { room: "r".repeat(MAX_ROOM_LEN), ..pass_claims() };
    let token = s.sign(&claims);
    assert!(token.len() < MAX_TOKEN_LEN);
    assert_eq!(s.verify(&token, NOW, Some(&claims.room), None), Ok(claims));
}

#[test]
fn an_overlong_room_never_yields_a_valid_token() {
    let s = signer();
    let claims = Claims { room: "r".repeat(MAX_ROOM_LEN + 1), ..pass_claims() };
    let signed = std::panic::catch_unwind(|| s.sign(&claims));
    // Debug builds stop at the caller's bug; release builds sign a token that never verifies.
    assert_eq!(signed.is_err(), cfg!(debug_assertions));
    if let Ok(token) = signed {
        assert_eq!(s.verify(&token, NOW, None, None), Err(CoreError::TokenMalformed));
    }
}

#[test]
fn extreme_times_round_trip() {
    let s = signer();
    for (issued_at, expires_at) in [(i64::MIN, i64::MAX), (i64::MAX, i64::MIN), (0, 0), (-1, 1), (i64::MAX, i64::MAX)] {
        let claims = Claims { issued_at, expires_at, ticket: u32::MAX, ..pass_claims() };
        let token = s.sign(&claims);
        let got = DecodedToken::parse(&token, &mut PayloadBuf::empty()).unwrap();
        assert_eq!((got.fields.issued_at, got.fields.expires_at), (issued_at, expires_at));
        assert_eq!(got.fields.ticket, u32::MAX);
    }
}

#[test]
fn signer_config_is_validated() {
    let secret = b"0123456789abcdef".to_vec();
    let invalid = |keys: Vec<(String, Vec<u8>)>| match Signer::new(keys) {
        Err(CoreError::InvalidConfig(message)) => message,
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    assert!(invalid(vec![]).contains("at least one"));
    assert!(invalid(vec![(String::new(), secret.clone())]).contains("1 to 32"));
    assert!(invalid(vec![("k".repeat(33), secret.clone())]).contains("1 to 32"));
    assert!(invalid(vec![("k.1".into(), secret.clone())]).contains("1 to 32"));
    assert!(invalid(vec![("k1".into(), secret[..15].to_vec())]).contains("at least 16"));
    assert!(invalid(vec![("k1".into(), secret.clone()), ("k1".into(), secret.clone())]).contains("more than once"));

    let ok = Signer::new(vec![("k".repeat(32), secret.clone()), ("A-z_9".into(), secret)]).unwrap();
    assert_eq!(ok.key_ids(), vec!["k".repeat(32).as_str(), "A-z_9"]);
}

#[test]
fn debug_output_shows_key_ids_but_not_secrets() {
    let s = Signer::new(vec![key("k1", b"very-secret-value-42")]).unwrap();
    let shown = format!("{s:?}");
    assert!(shown.contains("k1"), "{shown}");
    assert!(!shown.contains("very-secret"), "{shown}");
}

#[test]
fn signer_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Signer>();
}

fn any_kind() -> impl Strategy<Value = TokenKind> {
    prop_oneof![Just(TokenKind::Ticket), Just(TokenKind::Pass)]
}

fn any_claims() -> impl Strategy<Value = Claims> {
    let room = prop_oneof![
        "[a-z0-9_-]{0,64}",
        any::<String>().prop_filter("room ids are at most 64 bytes", |r| r.len() <= MAX_ROOM_LEN),
    ];
    let subject = proptest::option::of("[ -~]{1,256}");
    (any_kind(), room, any::<u32>(), any::<i64>(), any::<i64>(), subject).prop_map(
        |(kind, room, ticket, issued_at, expires_at, subject)| Claims {
            kind,
            room,
            ticket,
            issued_at,
            expires_at,
            subject,
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_claims_round_trip(claims in any_claims()) {
        let s = signer();
        let token = s.sign(&claims);
        prop_assert!(token.len() <= MAX_TOKEN_LEN);
        let now = claims.expires_at.saturating_sub(1);
        if claims.expires_at == i64::MIN {
            prop_assert_eq!(s.verify(&token, now, None, None), Err(CoreError::TokenExpired));
        } else {
            prop_assert_eq!(
                s.verify(&token, now, Some(&claims.room), Some(claims.kind)),
                Ok(claims.clone())
            );
            prop_assert_eq!(
                s.verify_fast(&token, now, &claims.room, Some(claims.kind)),
                Ok((claims.kind, claims.ticket, claims.issued_at, claims.expires_at))
            );
        }
    }

    #[test]
    fn arbitrary_text_never_panics_and_never_verifies(text in any::<String>()) {
        let s = signer();
        prop_assert!(s.verify(&text, i64::MIN, None, None).is_err());
        prop_assert!(s.verify_fast(&text, i64::MIN, ROOM, None).is_err());
    }

    #[test]
    fn token_shaped_text_never_verifies(
        kid in prop_oneof![Just("k1".to_owned()), Just("k2".to_owned()), "[A-Za-z0-9_-]{0,34}"],
        payload in "[A-Za-z0-9_-]{0,130}",
        tag in "[A-Za-z0-9_-]{20,24}",
    ) {
        let text = format!("{kid}.{payload}.{tag}");
        let s = signer();
        prop_assert!(s.verify(&text, i64::MIN, None, None).is_err());
        prop_assert!(s.verify_fast(&text, i64::MIN, ROOM, None).is_err());
    }

    #[test]
    fn arbitrary_payload_bytes_under_a_random_tag_never_verify(
        payload in proptest::collection::vec(any::<u8>(), 0..100),
        tag in any::<[u8; MAC_LEN]>(),
    ) {
        let text = format!("k2.{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag));
        let result = signer().verify(&text, i64::MIN, None, None);
        prop_assert!(
            matches!(result, Err(CoreError::TokenMalformed | CoreError::TokenBadSignature)),
            "{:?}", result
        );
    }

    #[test]
    fn arbitrary_payload_bytes_parse_without_panicking(
        payload in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        // With a valid MAC, whatever parses is exactly what was sent and re-encodes to it.
        let s = signer();
        let token = assemble(&s, "k2", &payload);
        if let Ok(claims) = s.verify(&token, i64::MIN, None, None) {
            prop_assert_eq!(payload_of(&s.sign(&claims)), payload);
        }
    }

    #[test]
    fn a_changed_character_never_verifies(
        claims in any_claims(),
        position in any::<prop::sample::Index>(),
        replacement in 0x20u8..0x7f,
    ) {
        let s = signer();
        let token = s.sign(&claims);
        let mut bytes = token.clone().into_bytes();
        let index = position.index(bytes.len());
        prop_assume!(bytes[index] != replacement);
        bytes[index] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(s.verify(&changed, i64::MIN, None, None).is_err());
    }
}

#[test]
fn a_subject_travels_in_the_token_and_is_covered_by_the_mac() {
    let s = signer();
    let claims = Claims { subject: Some("person-42".into()), ..pass_claims() };
    let token = s.sign(&claims);
    assert_eq!(s.verify(&token, NOW, Some(ROOM), Some(TokenKind::Pass)), Ok(claims.clone()));
    assert!(token.len() <= 85, "{} chars: {token}", token.len());
    // Without a subject the token keeps the version-1 form.
    assert_eq!(payload_of(&s.sign(&pass_claims()))[0], 1);
    assert_eq!(payload_of(&token)[0], 2);
    // Another subject under the same MAC is refused.
    let mut payload = payload_of(&token);
    let last = payload.len() - 1;
    payload[last] ^= 1;
    let tag = token.rsplit('.').next().unwrap();
    let forged = format!("k2.{}.{tag}", URL_SAFE_NO_PAD.encode(&payload));
    assert_eq!(s.verify(&forged, NOW, None, None), Err(CoreError::TokenBadSignature));
    // An empty or over-long subject field does not parse, even with a valid MAC.
    let mut empty = payload_of(&s.sign(&pass_claims()));
    empty[0] = 2;
    empty.push(0);
    assert_eq!(s.verify(&assemble(&s, "k2", &empty), NOW, None, None), Err(CoreError::TokenMalformed));
}
