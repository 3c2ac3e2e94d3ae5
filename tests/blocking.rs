//! Blocking list commands across connections, compared with redis-server: FIFO service,
//! several keys, timeouts, wake-ups from pushes and MULTI/EXEC, "served before the next
//! command", BLMOVE chains, disconnects, CLIENT UNBLOCK, type changes, and a job queue.
//!
//! Each scenario runs the same steps against redstart and redis-server and compares the
//! transcripts of raw replies. Short sleeps only order the steps (a client must be blocked
//! before the next one blocks); nothing asserts on timing.
mod common;
use common::*;

/// Lets a command sent on another connection reach the server and block.

#[test]
fn clients_on_one_key_are_served_in_order() {
    compare(|port| {
        let mut waiters: Vec<Conn> = (0..3).map(|_| Conn::connect(port)).collect();
        for w in waiters.iter_mut() {
            send(w, "BLPOP k 0");
            settle();
        }
        let mut p = Conn::connect(port);
        let mut t = vec![p.run("RPUSH k a b c d")];
        for w in waiters.iter_mut() {
            t.push(w.read_reply());
        }
        t.push(p.run("LRANGE k 0 -1"));
        t
    });
}

#[test]
fn several_keys_and_pipelined_commands_wait() {
    compare(|port| {
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        send(&mut w, "BRPOP k1 k2 k3 0");
        send(&mut w, "PING after");
        settle();
        let mut t = vec![p.run("RPUSH k3 x"), p.run("RPUSH k2 y z")];
        t.push(w.read_reply());
        t.push(w.read_reply());
        t.push(p.run("LRANGE k2 0 -1"));
        // The same client, in another database.
        t.push(w.run("SELECT 3"));
        send(&mut w, "BLPOP k2 0");
        settle();
        t.push(p.run("RPUSH k2 db0"));
        t.push(p.run("SELECT 3"));
        t.push(p.run("RPUSH k2 db3"));
        t.push(w.read_reply());
        t
    });
}

#[test]
fn timeouts_reply_null_in_both_protocols() {
    compare(|port| {
        let mut c = Conn::connect(port);
        let mut t = vec![c.run("BLPOP k 0.05"), c.run("BLMOVE a b LEFT LEFT 0.05"), c.run("BLMPOP 0.05 2 a b LEFT")];
        c.run("HELLO 3");
        t.push(c.run("BRPOP k 0.05"));
        t.push(c.run("BRPOPLPUSH a b 0.05"));
        t.push(c.run("EXISTS k a b"));
        t
    });
}

#[test]
fn a_push_is_served_before_the_pushers_next_command() {
    compare(|port| {
        let mut b = Conn::connect(port);
        let mut a = Conn::connect(port);
        send(&mut b, "BLPOP k 0");
        settle();
        send(&mut a, "LPUSH k v");
        send(&mut a, "LPOP k");
        vec![a.read_reply(), a.read_reply(), b.read_reply()]
    });
}

#[test]
fn multi_exec_wakes_after_exec() {
    compare(|port| {
        let mut b = Conn::connect(port);
        let mut a = Conn::connect(port);
        send(&mut b, "BLPOP k 0");
        settle();
        let mut t = vec![a.run("MULTI"), a.run("RPUSH k a"), a.run("LPUSH k b"), a.run("RPUSH k c"), a.run("LLEN k")];
        t.push(a.run("EXEC"));
        t.push(b.read_reply());
        t.push(a.run("LRANGE k 0 -1"));
        t
    });
}

#[test]
fn blmove_chains_and_resp3_waiters() {
    compare(|port| {
        let mut c1 = Conn::connect(port);
        let mut c2 = Conn::connect(port);
        let mut c3 = Conn::connect(port);
        c3.run("HELLO 3");
        send(&mut c1, "BLMOVE a b RIGHT LEFT 0");
        settle();
        send(&mut c2, "BRPOPLPUSH b c 0");
        settle();
        send(&mut c3, "BLMPOP 0 2 z c LEFT COUNT 5");
        settle();
        let mut p = Conn::connect(port);
        let mut t = vec![p.run("RPUSH a x y")];
        t.push(c1.read_reply());
        t.push(c2.read_reply());
        t.push(c3.read_reply());
        t.push(p.run("LRANGE a 0 -1"));
        t.push(p.run("EXISTS b c"));
        t
    });
}

#[test]
fn disconnected_waiter_loses_nothing() {
    compare(|port| {
        {
            let mut gone = Conn::connect(port);
            send(&mut gone, "BLPOP k 0");
            settle();
        }
        settle();
        let mut p = Conn::connect(port);
        let mut w = Conn::connect(port);
        send(&mut w, "BLPOP k 0");
        settle();
        let mut t = vec![p.run("RPUSH k v1 v2")];
        t.push(w.read_reply());
        t.push(p.run("LRANGE k 0 -1"));
        t
    });
}

#[test]
fn client_unblock_timeout_and_error() {
    compare(|port| {
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        let id = String::from_utf8(w.run("CLIENT ID")).unwrap();
        let id = id.trim_start_matches(':').trim();
        let mut t = vec![p.run(&format!("CLIENT UNBLOCK {id}"))];
        send(&mut w, "BLPOP k 0");
        settle();
        t.push(p.run(&format!("CLIENT UNBLOCK {id} TIMEOUT")));
        t.push(w.read_reply());
        send(&mut w, "BLMOVE k d LEFT LEFT 0");
        settle();
        t.push(p.run(&format!("CLIENT UNBLOCK {id} error")));
        t.push(w.read_reply());
        t.push(p.run(&format!("CLIENT UNBLOCK {id} bogus")));
        t.push(p.run("CLIENT UNBLOCK x"));
        t.push(p.run("CLIENT UNBLOCK 999999"));
        // Still usable afterwards, and pushes are not lost to the unblocked client.
        t.push(p.run("RPUSH k v"));
        t.push(w.run("LPOP k"));
        t
    });
}

#[test]
fn key_changing_type_keeps_list_waiters_waiting() {
    compare(|port| {
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        send(&mut w, "BLPOP k 0");
        settle();
        let mut t = vec![p.run("SET k str"), p.run("DEL k"), p.run("SET k 1"), p.run("INCR k")];
        t.push(p.run("DEL k"));
        t.push(p.run("RPUSH k finally"));
        t.push(w.read_reply());
        t
    });
}

#[test]
fn killed_waiter_is_removed() {
    compare(|port| {
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        let id = String::from_utf8(w.run("CLIENT ID")).unwrap();
        send(&mut w, "BLPOP k 0");
        settle();
        let mut t = vec![p.run(&format!("CLIENT KILL ID {}", id.trim_start_matches(':').trim()))];
        settle();
        t.push(p.run("RPUSH k v"));
        t.push(p.run("LLEN k"));
        t
    });
}

#[test]
fn blmove_to_a_wrong_type_destination_follows_redis_7_2() {
    // Redis 7.2 re-runs the blocked command when the source gets data, so the waiter gets the
    // WRONGTYPE error and the element stays in the source (7.0 behaved differently), asserted
    // on redstart directly.
    let ours = start_redstart(&[]);
    let mut w = Conn::connect(ours.port);
    let mut p = Conn::connect(ours.port);
    p.run("SET dst x");
    send(&mut w, "BLMOVE src dst LEFT LEFT 0");
    settle();
    assert_eq!(p.run("RPUSH src e"), b":1\r\n");
    assert_eq!(w.read_reply(), b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n".to_vec());
    assert_eq!(p.run("LRANGE src 0 -1"), b"*1\r\n$1\r\ne\r\n");
}

#[test]
fn job_queue_processes_each_job_exactly_once() {
    let ours = start_redstart(&[]);
    let url = format!("redis://127.0.0.1:{}/", ours.port);
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut got = Vec::new();
                loop {
                    let r: Option<(String, String)> = redis::cmd("BRPOP").arg("jobs").arg(5).query(&mut con).unwrap();
                    match r {
                        Some((_, job)) if job == "stop" => return got,
                        Some((_, job)) => got.push(job.parse::<u32>().unwrap()),
                        None => panic!("consumer starved"),
                    }
                }
            })
        })
        .collect();
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    for i in 0..400u32 {
        let _: i64 = redis::cmd("LPUSH").arg("jobs").arg(i).query(&mut con).unwrap();
    }
    for _ in 0..4 {
        let _: i64 = redis::cmd("LPUSH").arg("jobs").arg("stop").query(&mut con).unwrap();
    }
    let mut all: Vec<u32> = consumers.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..400).collect::<Vec<_>>());
    let left: i64 = redis::cmd("LLEN").arg("jobs").query(&mut con).unwrap();
    assert_eq!(left, 0);
}
