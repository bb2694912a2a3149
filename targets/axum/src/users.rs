//! The in-memory user store of targets/README.md ("The user store").
//!
//! The 10,000 records are built once at start-up as plain structs; every
//! `GET /users/{id}` serialises one with serde_json. Field declaration order
//! is serde's serialisation order, so the structs below spell the contract's
//! key order: id, name, email, active, created_at, tags, address, bio.

use serde::Serialize;

pub const USER_COUNT: usize = 10_000;

const FIRST: [&str; 16] = [
    "Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Keiko", "Liam", "Maya", "Nikolai", "Olivia", "Pedro",
];
const LAST: [&str; 16] = [
    "Anders", "Brooks", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Patel",
];
const TAGS: [&str; 8] = [
    "admin", "beta", "billing", "eu", "us", "apac", "mobile", "web",
];
const STREETS: [&str; 10] = [
    "Main St",
    "Oak Ave",
    "Pine Rd",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "Lake View",
    "Hill Rd",
    "River Way",
    "Park Blvd",
];
const CITIES: [(&str, &str); 8] = [
    ("Lisbon", "PT"),
    ("Berlin", "DE"),
    ("Osaka", "JP"),
    ("Toronto", "CA"),
    ("Austin", "US"),
    ("Nairobi", "KE"),
    ("Oslo", "NO"),
    ("Melbourne", "AU"),
];

/// 2024-01-01T00:00:00Z; user `id` was created `id * 3607` seconds later.
const CREATED_EPOCH: i64 = 1_704_067_200;

/// The record's shape, and so its serialisation, is shared by the store and
/// `GET /db/users/{id}` (db.rs): `S` is the type of the city and country
/// (the store's are `&'static str` from the tables above, the database's
/// owned), `T` that of the tags (two of the table's names, or the row's
/// `text[]`).
#[derive(Serialize)]
pub struct Address<S = &'static str> {
    pub(crate) street: String,
    pub(crate) city: S,
    pub(crate) postcode: String,
    pub(crate) country: S,
}

#[derive(Serialize)]
pub struct User<S = &'static str, T = [&'static str; 2]> {
    pub(crate) id: u32,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) active: bool,
    pub(crate) created_at: String,
    pub(crate) tags: T,
    pub(crate) address: Address<S>,
    pub(crate) bio: String,
}

impl User {
    fn new(id: u32) -> User {
        let n = id as usize;
        let first = FIRST[n % 16];
        let last = LAST[(n / 16) % 16];
        let created = Utc::from_unix(CREATED_EPOCH + i64::from(id) * 3607);
        let (city, country) = CITIES[n % 8];
        User {
            id,
            name: format!("{first} {last}"),
            email: format!(
                "{}.{}{id}@example.com",
                first.to_ascii_lowercase(),
                last.to_ascii_lowercase()
            ),
            active: id % 7 != 0,
            created_at: created.rfc3339(),
            tags: [TAGS[n % 8], TAGS[(n % 8 + 1 + (n / 8) % 7) % 8]],
            address: Address {
                street: format!("{} {}", n % 900 + 100, STREETS[n % 10]),
                city,
                postcode: format!("{:05}", (n * 7919) % 100_000),
                country,
            },
            bio: format!(
                "Member #{id} since {}. Writes about distributed systems, reliable APIs and the occasional benchmark.",
                created.year
            ),
        }
    }
}

/// Records 1..=10000, stored at index id - 1.
pub struct Store {
    users: Box<[User]>,
}

impl Store {
    pub fn generate() -> Store {
        let users = (1..=USER_COUNT as u32).map(User::new).collect();
        Store { users }
    }

    /// The ids of the active users, in id order (the compute kernel's input).
    pub fn active_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.users.iter().filter(|u| u.active).map(|u| u.id)
    }

    /// The record for a path segment, or None when it is not an id
    /// (`parse_id`).
    pub fn lookup(&self, segment: &str) -> Option<&User> {
        let id = parse_id(segment)?;
        self.users.get(id as usize - 1)
    }
}

/// A path segment as a user id: None when it is not a decimal integer in
/// 1..=10000. Like the Go reference (strconv.Atoi minus a leading '+'),
/// leading zeros are accepted: "007" is user 7. The /db/ routes use it too:
/// a bad id is a 404 without a query.
pub fn parse_id(segment: &str) -> Option<u32> {
    if segment.is_empty() {
        return None;
    }
    let mut id: u32 = 0;
    for b in segment.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        id = id * 10 + u32::from(b - b'0');
        if id > USER_COUNT as u32 {
            return None;
        }
    }
    (id >= 1).then_some(id)
}

/// A UTC civil time, enough to print `YYYY-MM-DDTHH:MM:SSZ` without a date crate.
struct Utc {
    year: i64,
    month: u32,
    day: u32,
    secs_of_day: u32,
}

impl Utc {
    fn from_unix(secs: i64) -> Utc {
        let days = secs.div_euclid(86_400);
        let secs_of_day = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            secs_of_day,
        }
    }

    fn rfc3339(&self) -> String {
        let s = self.secs_of_day;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year,
            self.month,
            self.day,
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_records() {
        let store = Store::generate();
        assert_eq!(
            serde_json::to_string(store.lookup("1").unwrap()).unwrap(),
            r#"{"id":1,"name":"Bruno Anders","email":"bruno.anders1@example.com","active":true,"created_at":"2024-01-01T01:00:07Z","tags":["beta","billing"],"address":{"street":"101 Oak Ave","city":"Berlin","postcode":"07919","country":"DE"},"bio":"Member #1 since 2024. Writes about distributed systems, reliable APIs and the occasional benchmark."}"#
        );
        assert_eq!(
            serde_json::to_string(store.lookup("10000").unwrap()).unwrap(),
            r#"{"id":10000,"name":"Alice Brooks","email":"alice.brooks10000@example.com","active":true,"created_at":"2025-02-21T11:26:40Z","tags":["admin","apac"],"address":{"street":"200 Main St","city":"Lisbon","postcode":"90000","country":"PT"},"bio":"Member #10000 since 2025. Writes about distributed systems, reliable APIs and the occasional benchmark."}"#
        );
    }

    #[test]
    fn lookup_rules() {
        let store = Store::generate();
        for bad in [
            "",
            "0",
            "10001",
            "abc",
            "-1",
            "+1",
            "1.0",
            " 1",
            "1 ",
            "99999999999999999999",
        ] {
            assert!(store.lookup(bad).is_none(), "{bad:?}");
        }
        assert_eq!(store.lookup("007").unwrap().id, 7);
        assert_eq!(store.lookup("9999").unwrap().id, 9999);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(
            Utc::from_unix(1_740_137_200).rfc3339(),
            "2025-02-21T11:26:40Z"
        );
    }
}
