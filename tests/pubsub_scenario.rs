//! The edge device's status bus (seeds 000/001) with real clients: 20 services heartbeat with
//! `SET silvasonic:status:<id> <json> EX 30` + `PUBLISH silvasonic:status <json>`; a dashboard
//! does Read + Subscribe (KEYS + GET, then SUBSCRIBE) and learns from the `expired` keyspace
//! event that a dead service's heartbeat lapsed; a controller (redis-py, RESP3) is woken by
//! `PUBLISH silvasonic:nudge reconcile`. Asserts behaviour, not timings.

mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const SERVICES: usize = 20;
/// The service that dies: its heartbeats carry a short TTL so the test does not wait 30 s.
const DYING: usize = 7;

fn client(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let con = c.get_connection().expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    con
}

fn service_id(i: usize) -> String {
    format!("svc-{i:02}")
}

/// One service: heartbeats until `stop` (or, for the dying one, until `kill`).
fn heartbeat(port: u16, i: usize, stop: Arc<AtomicBool>, kill: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut con = client(port);
        let id = service_id(i);
        let mut beats = 0u64;
        let dead = || i == DYING && kill.load(Ordering::Relaxed);
        while !stop.load(Ordering::Relaxed) && !dead() {
            beats += 1;
            let json = format!(r#"{{"instance_id":"{id}","status":"ok","beat":{beats}}}"#);
            let key = format!("silvasonic:status:{id}");
            let mut set = redis::cmd("SET");
            set.arg(&key).arg(&json);
            if i == DYING {
                set.arg("PX").arg(400);
            } else {
                set.arg("EX").arg(30);
            }
            let _: () = set.query(&mut con).expect("SET heartbeat");
            let _: i64 = redis::cmd("PUBLISH").arg("silvasonic:status").arg(&json).query(&mut con).expect("PUBLISH");
            thread::sleep(Duration::from_millis(20));
        }
        beats
    })
}

const CONTROLLER: &str = r#"
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), protocol=3)
p = r.pubsub()
p.subscribe("silvasonic:nudge")
while True:
    m = p.get_message(timeout=10)
    if m is None:
        print("timeout", flush=True); sys.exit(1)
    if m["type"] == "subscribe":
        print("ready", flush=True)
    elif m["type"] == "message":
        # A RESP3 client may run ordinary commands on its subscribed connection.
        print("nudge", m["channel"].decode(), m["data"].decode(), r.ping(), flush=True)
        break
"#;

#[test]
fn status_bus_read_subscribe_expiry_and_nudge() {
    let server = start_redstart(&[]);
    let port = server.port;
    let mut admin = client(port);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg("Ex").query(&mut admin).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let kill = Arc::new(AtomicBool::new(false));
    let services: Vec<_> = (0..SERVICES).map(|i| heartbeat(port, i, stop.clone(), kill.clone())).collect();

    // Wait until every service wrote a status key.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS").arg("silvasonic:status:*").query(&mut admin).unwrap();
        if keys.len() == SERVICES {
            break;
        }
        assert!(Instant::now() < deadline, "only {} status keys", keys.len());
        thread::sleep(Duration::from_millis(10));
    }

    // Dashboard, page load: read every status key (KEYS and SCAN agree), then subscribe.
    let mut dash = client(port);
    let keys: Vec<String> = redis::cmd("KEYS").arg("silvasonic:status:*").query(&mut dash).unwrap();
    let mut scanned = BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("MATCH").arg("silvasonic:status:*").query(&mut dash).unwrap();
        scanned.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(scanned, keys.iter().cloned().collect::<BTreeSet<_>>());
    let mut initial = BTreeMap::new();
    for k in &keys {
        let v: Option<String> = redis::cmd("GET").arg(k).query(&mut dash).unwrap();
        let v = v.expect("status key readable");
        assert!(v.contains(r#""status":"ok""#), "{v}");
        initial.insert(k.clone(), v);
    }
    assert_eq!(initial.len(), SERVICES);

    let mut ps = dash.as_pubsub();
    ps.subscribe("silvasonic:status").unwrap();
    ps.subscribe("__keyevent@0__:expired").unwrap();
    ps.set_read_timeout(Some(Duration::from_secs(10))).unwrap();

    // Live updates: every service is heard from, and each one's beats arrive in order.
    let mut last_beat: BTreeMap<String, u64> = BTreeMap::new();
    while last_beat.len() < SERVICES {
        let m = ps.get_message().expect("live status update");
        assert_eq!(m.get_channel_name(), "silvasonic:status");
        let json: String = m.get_payload().unwrap();
        let id = json.split("\"instance_id\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let beat: u64 = json.split("\"beat\":").nth(1).unwrap().trim_end_matches('}').parse().unwrap();
        if let Some(prev) = last_beat.insert(id.clone(), beat) {
            assert!(beat > prev, "{id}: beat {beat} after {prev}");
        }
    }

    // The controller (redis-py, RESP3) waits for a nudge from the web interface.
    let mut ctl = Command::new("python3")
        .args(["-c", CONTROLLER, &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (redis-py: pip install redis)");
    let mut lines = BufReader::new(ctl.stdout.take().unwrap()).lines();
    let first = lines.next().map(|l| l.unwrap());
    if first.as_deref() != Some("ready") {
        let mut err = String::new();
        use std::io::Read;
        ctl.stderr.take().unwrap().read_to_string(&mut err).ok();
        panic!("controller did not start ({first:?}): {err} (needs redis-py: pip install redis)");
    }
    let mut web = client(port);
    let receivers: i64 = redis::cmd("PUBLISH").arg("silvasonic:nudge").arg("reconcile").query(&mut web).unwrap();
    assert_eq!(receivers, 1, "the controller is the nudge channel's one subscriber");
    let got = lines.next().expect("controller output").unwrap();
    assert_eq!(got, "nudge silvasonic:nudge reconcile True");
    assert!(ctl.wait().unwrap().success());

    // A service dies: its key expires and the dashboard hears of it without polling.
    kill.store(true, Ordering::Relaxed);
    let dead_key = format!("silvasonic:status:{}", service_id(DYING));
    let expired = loop {
        let m = ps.get_message().expect("expired event");
        if m.get_channel_name() == "__keyevent@0__:expired" {
            break m.get_payload::<String>().unwrap();
        }
    };
    assert_eq!(expired, dead_key);
    drop(ps);

    stop.store(true, Ordering::Relaxed);
    for s in services {
        assert!(s.join().unwrap() > 0);
    }
    let left: Vec<String> = redis::cmd("KEYS").arg("silvasonic:status:*").query(&mut admin).unwrap();
    assert_eq!(left.len(), SERVICES - 1);
    assert!(!left.contains(&dead_key));
}

#[test]
fn python_dashboard_read_then_subscribe() {
    // The same Read + Subscribe pattern from redis-py in RESP2, with a pattern subscription.
    let server = start_redstart(&[]);
    let port = server.port;
    let mut svc = client(port);
    for i in 0..SERVICES {
        let _: () = redis::cmd("SET")
            .arg(format!("silvasonic:status:{}", service_id(i)))
            .arg(format!(r#"{{"instance_id":"{}"}}"#, service_id(i)))
            .arg("EX")
            .arg(30)
            .query(&mut svc)
            .unwrap();
    }
    const DASH: &str = r#"
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
keys = sorted(r.keys("silvasonic:status:*"))
vals = [r.get(k) for k in keys]
assert all(v is not None for v in vals)
p = r.pubsub()
p.psubscribe("silvasonic:*")
assert p.get_message(timeout=10)["type"] == "psubscribe"
print(len(keys), flush=True)
m = p.get_message(timeout=10)
print(m["type"], m["pattern"].decode(), m["channel"].decode(), m["data"].decode(), flush=True)
"#;
    let mut dash =
        Command::new("python3").args(["-c", DASH, &port.to_string()]).stdout(Stdio::piped()).spawn().expect("python3");
    let mut lines = BufReader::new(dash.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().expect("key count").unwrap(), SERVICES.to_string());
    let n: i64 = redis::cmd("PUBLISH").arg("silvasonic:logs").arg("recorder started").query(&mut svc).unwrap();
    assert_eq!(n, 1);
    assert_eq!(lines.next().unwrap().unwrap(), "pmessage silvasonic:* silvasonic:logs recorder started");
    assert!(dash.wait().unwrap().success());
}
