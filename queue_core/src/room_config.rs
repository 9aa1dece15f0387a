//! A room's configuration, validated once so that the rest of the core can trust it.

use crate::clock::MICROS_PER_SECOND;
use crate::errors::{CoreError, CoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrequeueMode {
    /// The pre-queue is put in a random order drawn at opening (the default: fair).
    Shuffle,
    /// The pre-queue keeps join order (for rooms where early arrival is meant to count).
    Fifo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityMode {
    Optional,
    Required,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnedSlots {
    /// Cancelled slots become free at the next release window.
    Windows,
    /// Cancelled slots are offered to the next waiting visitor.
    Waitlist,
}

#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub id: String,
    pub opens_at: i64,
    pub closes_at: Option<i64>,
    pub prequeue_opens_at: Option<i64>,
    pub admit_per_minute: f64,
    pub max_active: u32,
    pub session_seconds: u32,
    pub heartbeat_timeout_seconds: u32,
    pub prequeue: PrequeueMode,
    pub identity: IdentityMode,
    pub returned_slots: ReturnedSlots,
    pub release_windows: Vec<String>,
    pub timezone: String,
    pub max_bookings_per_identity: u32,
    pub hold_seconds: u32,
    pub offer_seconds: u32,
    /// Seed of the pre-queue draw; recorded so the draw can be reproduced.
    pub seed: u64,
}

pub const MAX_ROOM_ID_LEN: usize = 64;
/// How long a ticket token stays valid: long enough for any queue, short enough to expire.
pub const TICKET_TOKEN_SECONDS: i64 = 7 * 24 * 3600;

impl RoomConfig {
    pub fn validate(&self) -> CoreResult<()> {
        let bad = |m: String| Err(CoreError::InvalidConfig(m));
        if !valid_room_id(&self.id) {
            return bad(format!("room id {:?} must be 1 to {MAX_ROOM_ID_LEN} characters of A-Z a-z 0-9 _ -", self.id));
        }
        if !(self.admit_per_minute.is_finite() && self.admit_per_minute > 0.0) {
            return bad(format!("admit_per_minute must be > 0, got {}", self.admit_per_minute));
        }
        for (name, value) in [
            ("max_active", self.max_active),
            ("session_seconds", self.session_seconds),
            ("heartbeat_timeout_seconds", self.heartbeat_timeout_seconds),
            ("max_bookings_per_identity", self.max_bookings_per_identity),
            ("hold_seconds", self.hold_seconds),
            ("offer_seconds", self.offer_seconds),
        ] {
            if value == 0 {
                return bad(format!("{name} must be at least 1"));
            }
        }
        if let Some(closes) = self.closes_at {
            if closes <= self.opens_at {
                return bad("closes_at must be after opens_at".into());
            }
        }
        if let Some(pre) = self.prequeue_opens_at {
            if pre > self.opens_at {
                return bad("prequeue_opens_at must not be after opens_at".into());
            }
        }
        Ok(())
    }

    pub fn admit_per_second(&self) -> f64 {
        self.admit_per_minute / 60.0
    }

    pub fn session_micros(&self) -> i64 {
        i64::from(self.session_seconds) * MICROS_PER_SECOND
    }

    pub fn heartbeat_timeout_micros(&self) -> i64 {
        i64::from(self.heartbeat_timeout_seconds) * MICROS_PER_SECOND
    }
}

pub fn valid_room_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ROOM_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl PrequeueMode {
    pub fn parse(s: &str) -> CoreResult<Self> {
        match s {
            "shuffle" => Ok(Self::Shuffle),
            "fifo" => Ok(Self::Fifo),
            _ => Err(CoreError::InvalidConfig(format!("prequeue must be \"shuffle\" or \"fifo\", got {s:?}"))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shuffle => "shuffle",
            Self::Fifo => "fifo",
        }
    }
}

impl IdentityMode {
    pub fn parse(s: &str) -> CoreResult<Self> {
        match s {
            "optional" => Ok(Self::Optional),
            "required" => Ok(Self::Required),
            _ => Err(CoreError::InvalidConfig(format!("identity must be \"optional\" or \"required\", got {s:?}"))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }
}

impl ReturnedSlots {
    pub fn parse(s: &str) -> CoreResult<Self> {
        match s {
            "windows" => Ok(Self::Windows),
            "waitlist" => Ok(Self::Waitlist),
            _ => {
                Err(CoreError::InvalidConfig(format!("returned_slots must be \"windows\" or \"waitlist\", got {s:?}")))
            }
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Windows => "windows",
            Self::Waitlist => "waitlist",
        }
    }
}

#[cfg(test)]
pub(crate) fn test_config(opens_at: i64) -> RoomConfig {
    RoomConfig {
        id: "kiel".into(),
        opens_at,
        closes_at: None,
        prequeue_opens_at: None,
        admit_per_minute: 600.0,
        max_active: 100,
        session_seconds: 900,
        heartbeat_timeout_seconds: 60,
        prequeue: PrequeueMode::Shuffle,
        identity: IdentityMode::Optional,
        returned_slots: ReturnedSlots::Windows,
        release_windows: vec![],
        timezone: "UTC".into(),
        max_bookings_per_identity: 1,
        hold_seconds: 300,
        offer_seconds: 600,
        seed: 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_values_with_a_message() {
        let ok = test_config(0);
        assert!(ok.validate().is_ok());
        type Change = Box<dyn Fn(&mut RoomConfig)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|c| c.id = String::new()), "room id"),
            (Box::new(|c| c.id = "a b".into()), "room id"),
            (Box::new(|c| c.admit_per_minute = -1.0), "admit_per_minute"),
            (Box::new(|c| c.admit_per_minute = f64::NAN), "admit_per_minute"),
            (Box::new(|c| c.max_active = 0), "max_active"),
            (Box::new(|c| c.closes_at = Some(-5)), "closes_at"),
            (Box::new(|c| c.prequeue_opens_at = Some(5)), "prequeue_opens_at"),
        ];
        for (change, needle) in cases {
            let mut c = ok.clone();
            change(&mut c);
            match c.validate() {
                Err(CoreError::InvalidConfig(m)) => assert!(m.contains(needle), "{m}"),
                other => panic!("expected InvalidConfig for {needle}, got {other:?}"),
            }
        }
    }

    #[test]
    fn modes_parse_and_print() {
        assert_eq!(PrequeueMode::parse("fifo").unwrap().as_str(), "fifo");
        assert_eq!(IdentityMode::parse("required").unwrap().as_str(), "required");
        assert_eq!(ReturnedSlots::parse("waitlist").unwrap().as_str(), "waitlist");
        assert!(PrequeueMode::parse("random").is_err());
    }
}
