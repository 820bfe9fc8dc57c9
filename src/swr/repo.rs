//! A source repository (region, organization, repository), validated once when it is
//! made.

use std::fmt;

use super::names::{self, NameError, NameKind};

/// A source repository: region, organization and repository, all validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceRepo {
    region: String,
    organization: String,
    repository: String,
}

impl SourceRepo {
    /// Validates the three names.
    pub fn new(region: &str, organization: &str, repository: &str) -> Result<Self, NameError> {
        names::validate(NameKind::Region, region)?;
        names::validate(NameKind::Organization, organization)?;
        names::validate(NameKind::Repository, repository)?;
        Ok(Self {
            region: region.to_string(),
            organization: organization.to_string(),
            repository: repository.to_string(),
        })
    }

    /// Region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Organization.
    pub fn organization(&self) -> &str {
        &self.organization
    }

    /// Repository (with `/` for nested names).
    pub fn repository(&self) -> &str {
        &self.repository
    }
}

impl fmt::Display for SourceRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.region, self.organization, self.repository
        )
    }
}
