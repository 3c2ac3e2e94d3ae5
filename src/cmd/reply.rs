//! Reply shapes several families write the same way: SCAN-style `[cursor, items]` pairs and
//! the `HELP` subcommands' text.

use resp::Writer;

/// Writes a SCAN-style reply: the cursor, then the items.
pub fn scan_reply<T: AsRef<[u8]>>(out: &mut Writer, cursor: u64, items: &[T]) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(items.len());
    for i in items {
        out.bulk(i.as_ref());
    }
}

/// A HELP reply: a header line then `lines`, as status replies.
pub fn help_reply(out: &mut Writer, cmd: &str, lines: &[&str]) {
    out.array(lines.len() + 1);
    out.simple(&format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for l in lines {
        out.simple(l);
    }
}
