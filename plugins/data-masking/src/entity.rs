//! What can be masked: the built-in entity types, and the table of *labels*
//! (built-ins, then admins' custom entities, deny lists and column-rule
//! labels) that styles, detector sets and counters are indexed by.
//!
//! Invariants: built-in entities occupy labels `0..BUILTIN_COUNT` in
//! [`Entity::ALL`] order; a label name appears once (a column rule labelled
//! `ssn` counts into the built-in `ssn` label); there are at most
//! [`MAX_LABELS`] labels, so a set of them fits a `u64`.

/// A built-in detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Email,
    Phone,
    Card,
    Iban,
    Ssn,
    Ipv4,
    Ipv6,
    Jwt,
    ApiKey,
    PrivateKey,
}

pub const BUILTIN_COUNT: usize = 10;

/// Labels are indexed into a `u64` bit set.
pub const MAX_LABELS: usize = 64;

impl Entity {
    pub const ALL: [Entity; BUILTIN_COUNT] = [
        Entity::Email,
        Entity::Phone,
        Entity::Card,
        Entity::Iban,
        Entity::Ssn,
        Entity::Ipv4,
        Entity::Ipv6,
        Entity::Jwt,
        Entity::ApiKey,
        Entity::PrivateKey,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Entity::Email => "email",
            Entity::Phone => "phone",
            Entity::Card => "card",
            Entity::Iban => "iban",
            Entity::Ssn => "ssn",
            Entity::Ipv4 => "ipv4",
            Entity::Ipv6 => "ipv6",
            Entity::Jwt => "jwt",
            Entity::ApiKey => "api_key",
            Entity::PrivateKey => "private_key",
        }
    }

    /// The label index of a built-in (its position in [`Entity::ALL`]).
    pub fn label(self) -> Label {
        Label(self as u8)
    }

    pub fn from_name(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// An entity name in config: a built-in, a group of built-ins (`ip`,
/// `secrets`), or an admin-defined entity (custom pattern or deny list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityName {
    Builtin(Entity),
    Group(&'static [Entity]),
    Custom(String),
}

pub const IP_GROUP: &[Entity] = &[Entity::Ipv4, Entity::Ipv6];
pub const SECRETS_GROUP: &[Entity] = &[Entity::Jwt, Entity::ApiKey, Entity::PrivateKey];

impl EntityName {
    pub fn parse(name: &str) -> EntityName {
        match name {
            "ip" => EntityName::Group(IP_GROUP),
            "secrets" => EntityName::Group(SECRETS_GROUP),
            other => match Entity::from_name(other) {
                Some(entity) => EntityName::Builtin(entity),
                None => EntityName::Custom(other.to_string()),
            },
        }
    }
}

/// Index of a label in the [`Labels`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(pub u8);

impl Label {
    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub fn bit(self) -> u64 {
        1u64 << self.0
    }

    pub fn builtin(self) -> Option<Entity> {
        Entity::ALL.get(self.index()).copied()
    }
}

/// The names of every label, built-ins first.
#[derive(Debug, Clone)]
pub struct Labels {
    names: Vec<String>,
}

impl Default for Labels {
    fn default() -> Self {
        Self {
            names: Entity::ALL.iter().map(|e| e.name().to_string()).collect(),
        }
    }
}

impl Labels {
    /// The label called `name`, added if new. `Err` past [`MAX_LABELS`].
    pub fn intern(&mut self, name: &str) -> Result<Label, String> {
        if let Some(label) = self.get(name) {
            return Ok(label);
        }
        if self.names.len() >= MAX_LABELS {
            return Err(format!(
                "too many entity names (at most {} besides the {BUILTIN_COUNT} built-ins)",
                MAX_LABELS - BUILTIN_COUNT
            ));
        }
        self.names.push(name.to_string());
        Ok(Label((self.names.len() - 1) as u8))
    }

    pub fn get(&self, name: &str) -> Option<Label> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| Label(i as u8))
    }

    pub fn name(&self, label: Label) -> &str {
        &self.names[label.index()]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Whether `name` is usable as an admin-defined entity name: lower-case
/// ASCII letters, digits and `_`, starting with a letter, at most 32 long.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}
