//! Real clients against redstart: `redis-cli` (one-shot commands, inline mode, `--pipe`, RESP3)
//! and the Rust `redis` crate (pipelines, transactions, binary values).

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (apt-get install redis-tools)");
    assert!(out.status.success(), "redis-cli {:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn redis_cli_one_shot_commands() {
    let s = start_redstart(&[]);
    assert_eq!(cli(s.port, &["ping"]), "PONG\n");
    assert_eq!(cli(s.port, &["set", "silvasonic:status:recorder", "{\"ok\":true}", "EX", "30"]), "OK\n");
    assert_eq!(cli(s.port, &["get", "silvasonic:status:recorder"]), "{\"ok\":true}\n");
    assert_eq!(cli(s.port, &["keys", "silvasonic:status:*"]), "silvasonic:status:recorder\n");
    let ttl: i64 = cli(s.port, &["ttl", "silvasonic:status:recorder"]).trim().parse().unwrap();
    assert!((29..=30).contains(&ttl), "ttl {ttl}");
    assert_eq!(cli(s.port, &["incr", "counter"]), "1\n");
    assert_eq!(cli(s.port, &["get", "nothing"]), "\n");
    assert_eq!(cli(s.port, &["-3", "get", "nothing"]), "\n");
    // redis-cli prints errors with an "(error)" prefix only on a TTY; here the raw text.
    assert!(cli(s.port, &["nosuchcommand"]).contains("ERR unknown command 'nosuchcommand'"));
}

#[test]
fn redis_cli_pipe_mode_loads_many_keys() {
    let s = start_redstart(&[]);
    let mut data = Vec::new();
    for i in 0..20_000 {
        data.extend_from_slice(&encode(&[b"SET", format!("key:{i}").as_bytes(), b"v"]));
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &s.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 0, replies: 20000"), "{text}");
    assert_eq!(cli(s.port, &["dbsize"]), "20000\n");
}

#[test]
fn redis_cli_inline_mode_from_stdin() {
    let s = start_redstart(&[]);
    let mut child = Command::new("redis-cli")
        .args(["-p", &s.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"set greeting \"hello world\"\nget greeting\nmulti\nincr n\nexec\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\nhello world\nOK\nQUEUED\n1\n");
}

#[test]
fn redis_crate_pipelines_transactions_and_binary_values() {
    let s = start_redstart(&[]);
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", s.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    let blob: Vec<u8> = (0..=255u8).collect();
    let _: () = redis::cmd("SET").arg(&blob[..]).arg(&blob[..]).query(&mut con).unwrap();
    let back: Vec<u8> = redis::cmd("GET").arg(&blob[..]).query(&mut con).unwrap();
    assert_eq!(back, blob);

    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    pipe.cmd("GET").arg("p999");
    let (last,): (i64,) = pipe.query(&mut con).unwrap();
    assert_eq!(last, 999);

    let (a, b): (i64, i64) =
        redis::pipe().atomic().cmd("INCR").arg("tx").cmd("INCRBY").arg("tx").arg(10).query(&mut con).unwrap();
    assert_eq!((a, b), (1, 11));

    let err = redis::cmd("INCR").arg(&blob[..]).query::<i64>(&mut con).unwrap_err();
    assert!(err.to_string().contains("not an integer"), "{err}");
}
