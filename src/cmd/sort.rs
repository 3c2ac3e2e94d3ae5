//! The sort command family (rows are added as the family is implemented).

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
