//! Authentication: request signing and its verification, credentials, IAM tokens.

pub mod credentials;
pub mod iam;
pub mod refusal;
pub mod session;
pub mod signer;
pub mod verify;

pub use credentials::{AccessKey, Credentials, CredentialsError, PasswordLogin, SecretString};
pub use session::{CloudAuth, IssuedAuth};
