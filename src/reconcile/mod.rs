//! The reconciler: validate → credentials → claims → observe → plan → apply → status.

pub mod plan;
