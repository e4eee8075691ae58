//! The @connections client (being written).
