//! Server commands (bootstrap: none yet; INFO, CONFIG, COMMAND, TIME, SHUTDOWN land here).

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
