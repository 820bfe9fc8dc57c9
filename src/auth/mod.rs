//! Authentication: request signing and its verification, credentials, IAM tokens.

pub mod signer;
pub mod verify;
