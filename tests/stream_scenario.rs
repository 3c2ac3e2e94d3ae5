//! Seed 004's streams-first task bus, end to end with the `redis` crate against redstart:
//! producers → `cm:commands` → an orchestrator group → `rag:tasks` / `persist:tasks` consumed by
//! two worker groups with several consumers; a consumer "killed" mid-task whose entries another
//! claims with XAUTOCLAIM; tasks failing `MAX_RETRIES` times moved to a DLQ (delivery counts from
//! XPENDING, XCLAIM to take them); `SET NX EX` idempotency locks; heartbeats with SETEX;
//! per-minute stats in hashes (`ops:stats:{service}:m:{minute}`, HINCRBY + EXPIRE).
mod common;
use common::*;
use redis::{Commands, Connection, Value as RV};

fn xadd(c: &mut Connection, s: &str, id: &str, f: &[(&str, String)]) -> redis::RedisResult<String> {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(s).arg(id);
    for (k, v) in f {
        cmd.arg(*k).arg(v);
    }
    cmd.query(c)
}

fn xack(c: &mut Connection, s: &str, g: &str, ids: &[&str]) -> redis::RedisResult<i64> {
    redis::cmd("XACK").arg(s).arg(g).arg(ids).query(c)
}

fn xlen(c: &mut Connection, s: &str) -> redis::RedisResult<i64> {
    redis::cmd("XLEN").arg(s).query(c)
}

const MAX_RETRIES: i64 = 2;

fn conn(port: u16) -> Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap()
}

/// Entries of an XREADGROUP reply: (id, fields).
fn entries(v: RV) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let RV::Array(streams) = v else { return out };
    for s in streams {
        let RV::Array(kv) = s else { continue };
        let RV::Array(es) = &kv[1] else { continue };
        for e in es {
            let RV::Array(pair) = e else { continue };
            let id: String = redis::from_redis_value(&pair[0]).unwrap();
            let fields: Vec<String> = redis::from_redis_value(&pair[1]).unwrap_or_default();
            out.push((id, fields));
        }
    }
    out
}

fn read_group(
    c: &mut Connection,
    stream: &str,
    group: &str,
    consumer: &str,
    count: usize,
) -> Vec<(String, Vec<String>)> {
    let v: RV = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(group)
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(stream)
        .arg(">")
        .query(c)
        .unwrap();
    entries(v)
}

/// Processes one task with an idempotency lock; returns false if another worker holds it.
fn process(c: &mut Connection, stream: &str, group: &str, id: &str, task: &str, results: &str) -> bool {
    let lock = format!("agentic:ops:idemp:{stream}:{task}");
    let got: Option<String> = redis::cmd("SET").arg(&lock).arg(id).arg("NX").arg("EX").arg(60).query(c).unwrap();
    if got.is_none() {
        return false;
    }
    let _: String = redis::cmd("XADD")
        .arg(results)
        .arg("MAXLEN")
        .arg("~")
        .arg(20000)
        .arg("*")
        .arg("task")
        .arg(task)
        .query(c)
        .unwrap();
    let n: i64 = xack(c, stream, group, &[id]).unwrap();
    assert_eq!(n, 1);
    stat(c, stream, "processed");
    true
}

/// Counts an event in the service's per-minute stats hash, as seed 004's services do.
fn stat(c: &mut Connection, stream: &str, field: &str) {
    let minute = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 60;
    let key = format!("agentic:ops:stats:{stream}:m:{minute}");
    let _: i64 = redis::cmd("HINCRBY").arg(&key).arg(field).arg(1).query(c).unwrap();
    let _: i64 = redis::cmd("EXPIRE").arg(&key).arg(3600).query(c).unwrap();
}

/// Sum of `field` over every minute's stats hash of `stream`.
fn stat_total(c: &mut Connection, stream: &str, field: &str) -> i64 {
    let keys: Vec<String> = c.keys(format!("agentic:ops:stats:{stream}:m:*")).unwrap();
    keys.iter().map(|k| c.hget::<_, _, Option<i64>>(k, field).unwrap().unwrap_or(0)).sum()
}

#[test]
fn streams_first_task_bus() {
    let srv = start_redstart(&[]);
    let mut c = conn(srv.port);
    let ns = "agentic";
    let cmds = format!("{ns}:cm:commands");
    let rag = format!("{ns}:rag:tasks");
    let persist = format!("{ns}:persist:tasks");
    for (s, g) in [(&cmds, "orchestrators"), (&rag, "rag-workers"), (&persist, "persist-writers")] {
        let _: String =
            redis::cmd("XGROUP").arg("CREATE").arg(s).arg(g).arg("$").arg("MKSTREAM").query(&mut c).unwrap();
    }
    // Producers: 3 connections publish 20 commands each.
    let mut handles = Vec::new();
    for p in 0..3 {
        let port = srv.port;
        let cmds = cmds.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = conn(port);
            for i in 0..20 {
                let _: String = xadd(&mut c, &cmds, "*", &[("cmd", format!("p{p}-{i}"))]).unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    // Orchestrator: expands each command into one RAG and one persist task.
    let mut orch_seen = 0;
    loop {
        let es = read_group(&mut c, &cmds, "orchestrators", "orch-1", 7);
        if es.is_empty() {
            break;
        }
        for (id, f) in es {
            let task = &f[1];
            let _: String = xadd(&mut c, &rag, "*", &[("task", format!("rag-{task}"))]).unwrap();
            let _: String = xadd(&mut c, &persist, "*", &[("task", format!("persist-{task}"))]).unwrap();
            let _: i64 = xack(&mut c, &cmds, "orchestrators", &[&id]).unwrap();
            orch_seen += 1;
        }
    }
    assert_eq!(orch_seen, 60);
    let _: () = redis::cmd("SETEX").arg(format!("{ns}:ops:hb:orchestrator:1")).arg(30).arg(1).query(&mut c).unwrap();

    // RAG workers: w1 takes 5 tasks and dies (never acks); w2, w3 process the rest.
    let dead = read_group(&mut c, &rag, "rag-workers", "w1", 5);
    assert_eq!(dead.len(), 5);
    let mut processed: std::collections::BTreeSet<String> = Default::default();
    for w in ["w2", "w3"].iter().cycle() {
        let _: () = redis::cmd("SETEX").arg(format!("{ns}:ops:hb:rag:{w}")).arg(30).arg(1).query(&mut c).unwrap();
        let es = read_group(&mut c, &rag, "rag-workers", w, 4);
        if es.is_empty() {
            break;
        }
        for (id, f) in es {
            assert!(process(&mut c, &rag, "rag-workers", &id, &f[1], &format!("{ns}:rag:results")));
            assert!(processed.insert(f[1].clone()), "processed twice: {}", f[1]);
        }
    }
    assert_eq!(processed.len(), 55);
    // XPENDING shows w1's 5 entries; w2 reclaims them with XAUTOCLAIM once idle.
    let summary: RV = redis::cmd("XPENDING").arg(&rag).arg("rag-workers").query(&mut c).unwrap();
    let RV::Array(sum) = summary else { panic!() };
    assert_eq!(sum[0], RV::Int(5));
    std::thread::sleep(std::time::Duration::from_millis(30));
    let claimed: RV =
        redis::cmd("XAUTOCLAIM").arg(&rag).arg("rag-workers").arg("w2").arg(20).arg("0").query(&mut c).unwrap();
    let RV::Array(parts) = claimed else { panic!() };
    let got = entries(RV::Array(vec![RV::Array(vec![RV::Nil, parts[1].clone()])]));
    assert_eq!(got.len(), 5);
    for (id, f) in got {
        // A duplicate attempt by the dead worker's lock is refused; w2's first attempt wins.
        assert!(process(&mut c, &rag, "rag-workers", &id, &f[1], &format!("{ns}:rag:results")));
        assert!(!process(&mut c, &rag, "rag-workers", &id, &f[1], &format!("{ns}:rag:results")));
        assert!(processed.insert(f[1].clone()));
    }
    assert_eq!(processed.len(), 60);
    let results_len: i64 = xlen(&mut c, &format!("{ns}:rag:results")).unwrap();
    assert_eq!(results_len, 60);

    // Persist writers: tasks ending in "-3" always fail; they are retried up to MAX_RETRIES
    // deliveries and then moved to the DLQ.
    let dlq = format!("{ns}:persist:dlq");
    let mut done = 0;
    let mut dead_lettered = 0;
    let fails = |t: &str| t.ends_with("-3");
    for round in 0..10 {
        let mut es = read_group(&mut c, &persist, "persist-writers", if round % 2 == 0 { "pw1" } else { "pw2" }, 10);
        // Retry: claim pending failures (idle >= 0) back, with their delivery counts.
        let pend: RV = redis::cmd("XPENDING")
            .arg(&persist)
            .arg("persist-writers")
            .arg("-")
            .arg("+")
            .arg(100)
            .query(&mut c)
            .unwrap();
        let RV::Array(rows) = pend else { panic!() };
        for r in rows {
            let RV::Array(r) = r else { panic!() };
            let id: String = redis::from_redis_value(&r[0]).unwrap();
            let count: i64 = redis::from_redis_value(&r[3]).unwrap();
            if es.iter().any(|e| e.0 == id) {
                continue;
            }
            if count >= MAX_RETRIES {
                let v: RV = redis::cmd("XCLAIM")
                    .arg(&persist)
                    .arg("persist-writers")
                    .arg("dlq-mover")
                    .arg(0)
                    .arg(&id)
                    .query(&mut c)
                    .unwrap();
                let got = entries(RV::Array(vec![RV::Array(vec![RV::Nil, v])]));
                let _: String = xadd(&mut c, &dlq, "*", &[("task", got[0].1[1].clone()), ("id", id.clone())]).unwrap();
                let _: i64 = xack(&mut c, &persist, "persist-writers", &[&id]).unwrap();
                stat(&mut c, &persist, "dead_lettered");
                dead_lettered += 1;
            } else {
                let v: RV = redis::cmd("XCLAIM")
                    .arg(&persist)
                    .arg("persist-writers")
                    .arg("pw1")
                    .arg(0)
                    .arg(&id)
                    .query(&mut c)
                    .unwrap();
                es.extend(entries(RV::Array(vec![RV::Array(vec![RV::Nil, v])])));
            }
        }
        if es.is_empty() && round > 0 {
            break;
        }
        for (id, f) in es {
            if fails(&f[1]) {
                continue; // left pending: retried next round
            }
            assert!(process(&mut c, &persist, "persist-writers", &id, &f[1], &format!("{ns}:persist:results")));
            done += 1;
        }
    }
    // 60 tasks: persist-p{0,1,2}-3 end in "-3".
    assert_eq!(dead_lettered, 3);
    assert_eq!(done, 57);
    let dlq_len: i64 = xlen(&mut c, &dlq).unwrap();
    assert_eq!(dlq_len, 3);
    for (s, g) in [(&rag, "rag-workers"), (&persist, "persist-writers"), (&cmds, "orchestrators")] {
        let v: RV = redis::cmd("XPENDING").arg(s).arg(g).query(&mut c).unwrap();
        let RV::Array(v) = v else { panic!() };
        assert_eq!(v[0], RV::Int(0), "{s} has pending entries");
        let info: RV = redis::cmd("XINFO").arg("GROUPS").arg(s).query(&mut c).unwrap();
        let RV::Array(groups) = info else { panic!() };
        let RV::Array(g0) = &groups[0] else { panic!() };
        // lag 0: every entry was delivered to the group.
        assert_eq!(g0[11], RV::Int(0), "{s}: {g0:?}");
    }
    // The dead worker still exists with nothing pending; heartbeats carry TTLs.
    let consumers: RV = redis::cmd("XINFO").arg("CONSUMERS").arg(&rag).arg("rag-workers").query(&mut c).unwrap();
    let RV::Array(cs) = consumers else { panic!() };
    assert_eq!(cs.len(), 3);
    let ttl: i64 = c.ttl(format!("{ns}:ops:hb:rag:w2")).unwrap();
    assert!((1..=30).contains(&ttl));
    // The stats hashes agree with what the streams report.
    assert_eq!(stat_total(&mut c, &rag, "processed"), 60);
    assert_eq!(stat_total(&mut c, &persist, "processed"), 57);
    assert_eq!(stat_total(&mut c, &persist, "dead_lettered"), 3);
    let keys: Vec<String> = c.keys("agentic:ops:stats:*").unwrap();
    for k in keys {
        let ttl: i64 = c.ttl(&k).unwrap();
        assert!((1..=3600).contains(&ttl), "{k} ttl {ttl}");
        let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg(&k).query(&mut c).unwrap();
        assert_eq!(enc, "listpack");
    }
}
