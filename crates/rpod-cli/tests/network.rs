//! Networks end to end, through netavark and aardvark-dns: the default bridge, user
//! networks, published ports, names resolved between containers, the generated /etc files,
//! the other network modes, and that nothing is left behind (namespaces, interfaces,
//! firewall rules, addresses), also after a monitor is killed.
//!
//! Containers are reached only through ports published on 127.0.0.1 or from another
//! container of the same network. Each test has its own subnet (10.93.N.0/24) and bridge
//! (rpodtN), so the tests can run at once.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::*;

/// A store whose containers are bridged by default, on a default network of its own
/// (defN for 10.93.N.0/24) with its own bridge (rpodtN).
fn bridged(runtime: &str, subnet: &str) -> Rpod {
    let rpod = bridged_by_config(runtime, subnet);
    let n: u8 = subnet.split('.').nth(2).unwrap().parse().unwrap();
    rpod.lab_network(&format!("def{n}"), n);
    rpod
}

/// A store whose default network (defN for 10.93.N.0/24) is made on first use, from the
/// configuration, with the first free bridge name: only one test at a time may use such
/// a store (two would pick the same name, and the second would be refused).
fn bridged_by_config(runtime: &str, subnet: &str) -> Rpod {
    let rpod = Rpod::with_config(
        runtime,
        &format!(
            "[network]\ndefault_network = \"def{}\"\ndefault_subnet = \"{subnet}\"\n",
            subnet.split('.').nth(2).unwrap()
        ),
    );
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    rpod
}

/// GET a path from 127.0.0.1:port; the body, once the server answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    http_get_at("127.0.0.1", port, path)
}

/// GET a path from address:port.
fn http_get_at(address: &str, port: u16, path: &str) -> Option<String> {
    try_http_get_at(address, port, path).ok()
}

/// GET a path from address:port: the body, or why there is none (for a failure's report).
fn try_http_get_at(address: &str, port: u16, path: &str) -> Result<String, String> {
    let address: std::net::IpAddr = address.parse().map_err(|e| format!("{address}: {e}"))?;
    let mut stream = TcpStream::connect_timeout(&(address, port).into(), Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| format!("read timeout: {e}"))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").map_err(|e| format!("write: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .ok_or_else(|| format!("not an HTTP answer: {answer:?}"))
}

/// A web server container: busybox httpd serving `body` at /index.html.
const WEB: &str = "mkdir -p /www && echo $BODY > /www/index.html && exec httpd -f -p 80 -h /www";

fn host_command(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nothing of a container's networking is left: namespace files, interfaces on the bridge,
/// firewall rules naming an address of its subnet.
fn assert_nothing_left(rpod: &Rpod, ip: &str, bridge: &str) {
    let prefix = &ip[..=ip.rfind('.').unwrap()];
    let left = network_leftovers(rpod, bridge, prefix);
    assert!(left.is_empty(), "left behind by {ip}: {left:#?}");
}

/// After `network rm`: no bridge, and no firewall rule names the subnet.
fn assert_network_gone(bridge: &str, subnet_prefix: &str) {
    assert!(
        !std::path::Path::new("/sys/class/net").join(bridge).exists(),
        "bridge {bridge} left"
    );
    for program in ["iptables-save", "ip6tables-save"] {
        for table in ["filter", "nat"] {
            let rules = host_command(program, &["-t", table]);
            let left: Vec<&str> = rules
                .lines()
                .filter(|l| l.contains(subnet_prefix))
                .collect();
            assert!(left.is_empty(), "{program} {table} rules left: {left:?}");
        }
    }
}

#[test]
fn default_bridge_gives_an_address_and_the_etc_files() {
    let rpod = bridged_by_config("runc", "10.93.10.0/24");
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--name",
        "site",
        "--hostname",
        "web1",
        "demo",
        "sh",
        "-c",
        "ip -4 -o addr show eth0; echo ---; cat /etc/hosts; echo ---; cat /etc/hostname; echo ---; cat /run/.containerenv; echo ---; ip route",
    ]);
    let parts: Vec<&str> = out.split("---\n").collect();
    assert!(parts[0].contains("inet 10.93.10.2/24"), "{out}");
    assert!(parts[1].contains("127.0.0.1\tlocalhost"), "{out}");
    assert!(parts[1].contains("10.93.10.2\tweb1 site"), "{out}");
    assert!(
        parts[1].contains("10.93.10.1\thost.containers.internal"),
        "{out}"
    );
    assert_eq!(parts[2], "web1\n");
    assert!(parts[3].contains("name=\"site\""), "{out}");
    assert!(
        parts[3].contains("image=\"localhost/demo:latest\""),
        "{out}"
    );
    assert!(parts[3].contains("rootless=0"), "{out}");
    assert!(parts[4].contains("default via 10.93.10.1"), "{out}");
    // The default network was made on first use, in netavark's format.
    let network = rpod.ok(&["network", "inspect", "def10"]);
    let json: serde_json::Value = serde_json::from_str(&network).unwrap();
    assert_eq!(json[0]["driver"], "bridge");
    assert_eq!(json[0]["subnets"][0]["subnet"], "10.93.10.0/24");
    assert_eq!(json[0]["dns_enabled"], false);
    let bridge = json[0]["network_interface"].as_str().unwrap().to_string();
    assert_nothing_left(&rpod, "10.93.10.2", &bridge);
    // The address is free again.
    let again = rpod.ok(&[
        "run", "--rm", "demo", "ip", "-4", "-o", "addr", "show", "eth0",
    ]);
    assert!(again.contains("10.93.10.2/24"), "{again}");
}

#[test]
fn published_ports_and_names_between_containers() {
    for (runtime, n) in [("runc", 11u8), ("crun", 12)] {
        // 10.93.64 and .65 (10.93.61 is another test's).
        let rpod = bridged(runtime, &format!("10.93.{}.0/24", n + 53));
        rpod.lab_network("lab", n);
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:80");
        // httpd serves a file from a bind mount of the host.
        let site = tempfile::tempdir().unwrap();
        std::fs::write(site.path().join("index.html"), "hello-web\n").unwrap();
        let bind = format!("{}:/www:ro", site.path().display());
        rpod.detached(&[
            "--name",
            "web",
            "--network",
            "lab",
            "-p",
            &publish,
            "-v",
            &bind,
            "--expose",
            "7000",
            "-P",
            "demo",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ]);
        let mut body = None;
        wait_until("the published port answers", || {
            body = http_get(port, "/index.html");
            body.is_some()
        });
        assert_eq!(body.as_deref(), Some("hello-web\n"));
        // `rpod port` lists both, the -P one on a port chosen for it.
        let ports = rpod.ok(&["port", "web"]);
        assert!(
            ports.contains(&format!("80/tcp -> 127.0.0.1:{port}")),
            "{ports}"
        );
        assert!(ports.contains("7000/tcp -> 0.0.0.0:"), "{ports}");
        assert_eq!(
            rpod.ok(&["port", "web", "80"]),
            format!("127.0.0.1:{port}\n")
        );
        // Not published: said as the user wrote it (podman's words).
        let err = rpod.fails(&["port", "web", "81"], 125);
        assert!(
            err.contains("failed to find published port \"81\""),
            "{err}"
        );
        // A container that does not run has nothing bound: podman's `port` shows nothing.
        rpod.ok(&[
            "create",
            "--name",
            "idle",
            "--network",
            "lab",
            "-p",
            "9999:80",
            "demo",
            "true",
        ]);
        assert_eq!(rpod.ok(&["port", "idle"]), "");
        assert_eq!(rpod.ok(&["port", "idle", "80"]), "");
        // A port that is not a number is refused before the container is looked at.
        for port in ["abc", "70000"] {
            let err = rpod.fails(&["port", "idle", port], 125);
            assert!(err.contains(&format!("invalid port \"{port}\"")), "{err}");
        }
        // (The host side, not a short ID or another port that has the digits.)
        let all = rpod.ok(&["port", "--all"]);
        assert!(!all.contains(":9999\n"), "{all}");
        rpod.ok(&["rm", "idle"]);
        // Exposed without -P: shown by inspect without a host side, as podman's.
        rpod.ok(&[
            "create",
            "--name",
            "exposer",
            "--network",
            "lab",
            "--expose",
            "9000",
            "--expose",
            "53/udp",
            "demo",
            "true",
        ]);
        assert_eq!(
            rpod.inspect("exposer", "{{json .NetworkSettings.Ports}}"),
            r#"{"53/udp":null,"9000/tcp":null}"#
        );
        rpod.ok(&["rm", "exposer"]);
        // A host port taken by another container, or by the host, is refused at start.
        let err = rpod.fails(
            &[
                "run",
                "-d",
                "--name",
                "web2",
                "--network",
                "lab",
                "-p",
                &publish,
                "demo",
                "true",
            ],
            125,
        );
        assert!(err.contains("already published by container web"), "{err}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = format!("127.0.0.1:{}:80", listener.local_addr().unwrap().port());
        let err = rpod.fails(
            &[
                "run",
                "--rm",
                "--network",
                "lab",
                "-p",
                &busy,
                "demo",
                "true",
            ],
            125,
        );
        assert!(err.contains("address already in use"), "{err}");
        drop(listener);
        assert_eq!(rpod.ok(&["ps", "-a", "--format", "{{.Names}}"]), "web\n");
        let ip = rpod.inspect("web", "{{.NetworkSettings.IPAddress}}");
        assert_eq!(ip, format!("10.93.{n}.2"));
        assert_eq!(
            rpod.inspect("web", "{{.NetworkSettings.Networks.lab.Gateway}}"),
            format!("10.93.{n}.1")
        );
        // Another container of the network reaches it by name, through aardvark-dns.
        let out = rpod.ok(&[
            "run", "--rm", "--network", "lab", "demo", "sh", "-c",
            "head -1 /etc/resolv.conf; grep nameserver /etc/resolv.conf | head -1; wget -q -O - http://web/index.html",
        ]);
        assert_eq!(
            out,
            format!("search dns.podman\nnameserver 10.93.{n}.1\nhello-web\n")
        );
        rpod.ok(&["rm", "-f", "-t", "0", "web"]);
        assert!(
            http_get(port, "/index.html").is_none(),
            "the port is still forwarded"
        );
        assert_nothing_left(&rpod, &ip, &format!("rpodt{n}"));
        // The bridge stays with its network, and goes with it.
        assert!(std::path::Path::new(&format!("/sys/class/net/rpodt{n}")).exists());
        rpod.ok(&["network", "rm", "lab"]);
        assert_network_gone(&format!("rpodt{n}"), &format!("10.93.{n}."));
    }
}

#[test]
fn a_pods_network_and_ports_are_its_infra_containers() {
    let rpod = bridged("crun", "10.93.95.0/24");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "site",
        "-p",
        &publish,
        "--add-host",
        "db:10.0.0.5",
    ]);
    rpod.detached(&[
        "--name",
        "server",
        "--pod",
        "site",
        "-e",
        "BODY=from-the-pod",
        "demo",
        "sh",
        "-c",
        WEB,
    ]);
    let mut body = None;
    wait_until("the pod's published port answers", || {
        body = http_get(port, "/index.html");
        body.is_some()
    });
    assert_eq!(body.as_deref(), Some("from-the-pod\n"));
    // Another container of the pod reaches the server on localhost, and sees the pod's
    // host entries.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--pod",
        "site",
        "demo",
        "sh",
        "-c",
        "wget -qO- http://localhost/index.html; grep -cw db /etc/hosts; hostname",
    ]);
    assert_eq!(out, "from-the-pod\n1\nsite\n");
    let infra = rpod
        .ok(&[
            "pod",
            "inspect",
            "--format",
            "{{.InfraContainerID}}",
            "site",
        ])
        .trim()
        .to_string();
    assert_eq!(
        rpod.ok(&["port", &infra, "80"]),
        format!("127.0.0.1:{port}\n")
    );
    let ip = rpod.inspect(&infra, "{{.NetworkSettings.IPAddress}}");
    assert!(ip.starts_with("10.93.95."), "{ip}");
    // podman's `network` filter of pods: the infra container's networks.
    let on = |network: &str| {
        let filter = format!("network={network}");
        rpod.ok(&["pod", "ps", "--filter", &filter, "--format", "{{.Name}}"])
    };
    assert_eq!((on("def95").as_str(), on("other").as_str()), ("site\n", ""));
    let network = rpod.ok(&["network", "inspect", "def95"]);
    let json: serde_json::Value = serde_json::from_str(&network).unwrap();
    // A network's ID (or a prefix of it) too, for pods and containers.
    let network_id = json[0]["id"].as_str().unwrap();
    assert_eq!(on(&network_id[..12]), "site\n");
    let filter = format!("network={network_id}");
    let members = rpod.ok(&["ps", "--filter", &filter, "--format", "{{.ID}}"]);
    assert_eq!(members.trim(), &infra[..12]);
    let bridge = json[0]["network_interface"].as_str().unwrap().to_string();
    rpod.ok(&["pod", "rm", "-f", "-t", "0", "site"]);
    wait_for_network_teardowns(&rpod);
    assert_nothing_left(&rpod, &ip, &bridge);
    assert!(http_get(port, "/index.html").is_none());
}

/// The nat rules that forward to `ip:port`, as `iptables -S` prints them.
fn forwarding_rules(ip: &str, port: u16) -> Vec<String> {
    let target = format!("--to-destination {ip}:{port}");
    host_command("iptables", &["-t", "nat", "-S"])
        .lines()
        .filter(|rule| rule.contains(&target))
        .map(String::from)
        .collect()
}

/// A container `name` serving `body` on a port published on 127.0.0.1; the port, once it
/// answers.
fn serve_published(rpod: &Rpod, name: &str, body: &str) -> u16 {
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let body = format!("BODY={body}");
    rpod.detached(&[
        "--name", name, "-p", &publish, "-e", &body, "demo", "sh", "-c", WEB,
    ]);
    wait_until("the published port answers", || {
        http_get(port, "/index.html").is_some()
    });
    port
}

/// Delete the firewall rules that forward to `ip:port` (what a firewall's reload does to
/// every container's): the NAT table's rules naming that destination.
fn delete_forwarding(ip: &str, port: u16) -> usize {
    let mut deleted = 0;
    for rule in forwarding_rules(ip, port) {
        let mut args = vec!["-t", "nat"];
        let words: Vec<&str> = rule.split_whitespace().collect();
        args.push("-D");
        args.extend(&words[1..]);
        let status = Command::new("iptables").args(&args).status().unwrap();
        assert!(status.success(), "iptables {args:?}");
        deleted += 1;
    }
    deleted
}

/// A container's published ports follow its networks: a disconnect takes their
/// forwarding off (nothing left pointing at the old address), a connect puts it back on.
#[test]
fn published_ports_follow_disconnects_and_connects() {
    let rpod = bridged("runc", "10.93.86.0/24");
    let port = serve_published(&rpod, "served", "moved");
    let ip = rpod.inspect("served", "{{.NetworkSettings.IPAddress}}");
    let forwarded_to = |ip: &str| forwarding_rules(ip, 80).len();
    assert!(forwarded_to(&ip) > 0);
    rpod.ok(&["network", "disconnect", "def86", "served"]);
    assert_eq!(forwarded_to(&ip), 0, "forwarding to {ip} left");
    assert!(http_get(port, "/index.html").is_none(), "still forwarded");
    rpod.ok(&[
        "network",
        "connect",
        "--ip",
        "10.93.86.40",
        "def86",
        "served",
    ]);
    assert!(forwarded_to("10.93.86.40") > 0);
    assert_eq!(http_get(port, "/index.html").as_deref(), Some("moved\n"));
    rpod.ok(&["rm", "-f", "-t", "0", "served"]);
    assert_nothing_left(&rpod, "10.93.86.40", "rpodt86");
    assert_eq!(forwarded_to(&ip), 0);
}

#[test]
fn network_reload_puts_back_what_a_firewall_flush_took() {
    let rpod = bridged("runc", "10.93.96.0/24");
    let port = serve_published(&rpod, "served", "reloaded");
    let ip = rpod.inspect("served", "{{.NetworkSettings.IPAddress}}");
    let mac = rpod.inspect("served", "{{.NetworkSettings.MacAddress}}");
    assert!(delete_forwarding(&ip, 80) > 0);
    assert!(http_get(port, "/index.html").is_none(), "still forwarded");
    let id = rpod.inspect("served", "{{.Id}}");
    assert_eq!(rpod.ok(&["network", "reload", "served"]), format!("{id}\n"));
    assert_eq!(http_get(port, "/index.html").as_deref(), Some("reloaded\n"));
    // The same address and MAC address, and only one set of rules.
    assert_eq!(rpod.inspect("served", "{{.NetworkSettings.IPAddress}}"), ip);
    assert_eq!(
        rpod.inspect("served", "{{.NetworkSettings.MacAddress}}"),
        mac
    );
    assert_eq!(rpod.ok(&["network", "reload", "--all"]), format!("{id}\n"));
    assert_eq!(delete_forwarding(&ip, 80), 1);
    rpod.ok(&["network", "reload", "-l"]);
    assert_eq!(http_get(port, "/index.html").as_deref(), Some("reloaded\n"));
    // What has no network of rpod's, or does not run, is refused.
    rpod.ok(&["create", "--name", "idle", "demo", "true"]);
    rpod.fails(&["network", "reload", "idle"], 125);
    rpod.ok(&[
        "run",
        "-d",
        "--name",
        "hosted",
        "--network",
        "none",
        "demo",
        "sleep",
        "100",
    ]);
    let err = rpod.fails(&["network", "reload", "hosted"], 125);
    assert!(err.contains("only bridged containers"), "{err}");
    rpod.fails(&["network", "reload", "nosuch"], 125);
    rpod.fails(&["network", "reload"], 125);
}

#[test]
fn network_commands() {
    let rpod = bridged("runc", "10.93.20.0/24");
    rpod.lab_network("one", 21);
    rpod.ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.22.0/24",
        "--gateway",
        "10.93.22.254",
        "--interface-name",
        "rpodt22",
        "--internal",
        "--label",
        "team=blue",
        "two",
    ]);
    let names = rpod.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names, "def20\none\ntwo\n");
    let table = rpod.ok(&["network", "ls"]);
    assert!(table.starts_with("NETWORK ID"), "{table}");
    assert_eq!(
        rpod.ok(&["network", "ls", "-q", "--filter", "label=team=blue"]),
        "two\n"
    );
    // One value of a key is enough; every label must match.
    assert_eq!(
        rpod.ok(&["network", "ls", "-q", "--filter", "name=one", "--filter", "name=two"]),
        "one\ntwo\n"
    );
    assert_eq!(
        rpod.ok(&[
            "network",
            "ls",
            "-q",
            "--filter",
            "label=team=blue",
            "--filter",
            "label=x"
        ]),
        ""
    );
    // `--format json`: the networks in podman's (netavark's) form, as inspect gives them.
    let listed: serde_json::Value = serde_json::from_str(&rpod.ok(&[
        "network",
        "ls",
        "--format",
        "json",
        "--filter",
        "label=team=blue",
    ]))
    .unwrap();
    assert_eq!(listed[0]["name"], "two", "{listed}");
    assert_eq!(listed[0]["network_interface"], "rpodt22", "{listed}");
    assert_eq!(
        listed[0]["subnets"][0]["subnet"], "10.93.22.0/24",
        "{listed}"
    );
    assert_eq!(listed[0]["id"].as_str().map(str::len), Some(64), "{listed}");
    let two: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["network", "inspect", "two"])).unwrap();
    assert_eq!(two[0]["subnets"][0]["gateway"], "10.93.22.254");
    assert_eq!(two[0]["internal"], true);
    assert_eq!(two[0]["labels"]["team"], "blue");
    // podman's listing gives labels as `k=v,...`, inspect the map; both give the creation
    // time as Go prints a time.
    let listed = rpod.ok(&[
        "network",
        "ls",
        "--filter",
        "name=two",
        "--format",
        "{{.Labels}}|{{.Created}}",
    ]);
    let (labels, created) = listed.trim_end().split_once('|').unwrap();
    assert_eq!(labels, "team=blue");
    assert!(created.ends_with(" +0000 UTC"), "{listed}");
    let inspected = rpod.ok(&[
        "network",
        "inspect",
        "--format",
        "{{.Labels}}|{{.Created}}",
        "two",
    ]);
    assert_eq!(inspected, format!("map[team:blue]|{created}\n"));
    assert_eq!(
        rpod.ok(&[
            "network",
            "inspect",
            "--format",
            "{{.NetworkInterface}} {{.DNSEnabled}}",
            "two"
        ]),
        "rpodt22 true\n"
    );
    // `rpod inspect` finds networks, volumes and pods too (podman's order: containers,
    // images, volumes, networks, pods), or only the kind `--type` names.
    rpod.ok(&["volume", "create", "vol"]);
    rpod.ok(&["pod", "create", "--name", "pd"]);
    assert_eq!(
        rpod.ok(&["inspect", "--format", "{{.Name}}", "two", "vol", "pd"]),
        "two\nvol\npd\n"
    );
    let both: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["inspect", "two", "vol"])).unwrap();
    assert_eq!(both[0]["network_interface"], "rpodt22", "{both}");
    assert_eq!(both[1]["Driver"], "local", "{both}");
    assert_eq!(
        rpod.ok(&[
            "inspect",
            "--type",
            "network",
            "--format",
            "{{.NetworkInterface}}",
            "two"
        ]),
        "rpodt22\n"
    );
    let err = rpod.fails(&["inspect", "--type", "volume", "two"], 125);
    assert_eq!(err, "Error: inspecting object: no such volume two\n");
    assert_eq!(
        rpod.ok(&["inspect", "--type", "pod", "--format", "{{.Name}}", "pd"]),
        "pd\n"
    );
    // Every miss but the first on a line of its own, the first as the error, as podman's.
    let err = rpod.fails(&["inspect", "nothing-by-that-name", "pd", "nor-this"], 125);
    assert_eq!(
        err,
        "error inspecting object: no such object: \"nor-this\"\nError: inspecting object: no such object: \"nothing-by-that-name\"\n"
    );
    rpod.ok(&["pod", "rm", "pd"]);
    rpod.ok(&["volume", "rm", "vol"]);
    assert_eq!(
        rpod.run(&["network", "exists", "one"]).status.code(),
        Some(0)
    );
    assert_eq!(
        rpod.run(&["network", "exists", "nope"]).status.code(),
        Some(1)
    );
    // Refused: a taken name or subnet, a mode's name, a bad subnet or driver.
    let err = rpod.fails(
        &["network", "create", "--subnet", "10.93.23.0/24", "one"],
        125,
    );
    assert!(err.contains("already exists"), "{err}");
    let err = rpod.fails(
        &["network", "create", "--subnet", "10.93.21.0/25", "x"],
        125,
    );
    assert!(err.contains("already used by network one"), "{err}");
    rpod.fails(&["network", "create", "host"], 125);
    rpod.fails(
        &["network", "create", "--subnet", "10.93.300.0/24", "x"],
        125,
    );
    rpod.fails(&["network", "create", "-d", "macvlan", "x"], 125);
    let err = rpod.fails(&["network", "inspect", "nope"], 125);
    assert_eq!(
        err,
        "Error: inspecting object: network nope: unable to find network with name or ID nope: network not found\n"
    );
    // A network in use is kept unless forced, which removes its containers.
    rpod.ok(&[
        "create",
        "--name",
        "user",
        "--network",
        "one",
        "demo",
        "true",
    ]);
    let err = rpod.fails(&["network", "rm", "one"], 2);
    assert!(err.contains("user"), "{err}");
    rpod.fails(&["network", "rm", "nope"], 1);
    // The default network stays, as podman's: by name or ID, forced or not, and its
    // containers with it.
    rpod.ok(&["create", "--name", "on-default", "demo", "true"]);
    let default_id = rpod.ok(&["network", "inspect", "-f", "{{.ID}}", "def20"]);
    for args in [
        &["network", "rm", "def20"][..],
        &["network", "rm", "-f", "def20"],
        &["network", "rm", "-f", default_id.trim()],
    ] {
        let err = rpod.fails(args, 125);
        assert_eq!(
            err, "Error: default network def20 cannot be removed\n",
            "{args:?}"
        );
    }
    rpod.ok(&["rm", "on-default"]);
    // --force passes over a network that is not there, as podman's.
    assert_eq!(rpod.ok(&["network", "rm", "-f", "nope"]), "");
    // Prune keeps used networks and the default one; its filters narrow what goes.
    assert_eq!(
        rpod.ok(&["network", "prune", "-f", "--filter", "until=2000-01-01"]),
        ""
    );
    let err = rpod.fails(
        &["network", "prune", "-f", "--filter", "dangling=true"],
        125,
    );
    assert!(err.contains("label, label!, until"), "{err}");
    assert_eq!(rpod.ok(&["network", "prune", "-f"]), "two\n");
    assert_eq!(rpod.ok(&["network", "rm", "-f", "one"]), "one\n");
    rpod.fails(&["inspect", "user"], 125);
    assert_eq!(rpod.ok(&["network", "ls", "-q"]), "def20\n");
    // Bad --network values and flags that need a bridge.
    rpod.fails(&["create", "--network", "nope", "demo", "true"], 125);
    rpod.fails(&["create", "--network", "host,none", "demo", "true"], 125);
    rpod.fails(
        &[
            "create",
            "--network",
            "none",
            "--ip",
            "10.0.0.2",
            "demo",
            "true",
        ],
        125,
    );
    rpod.fails(&["create", "-p", "80:80:80:80", "demo", "true"], 125);
    rpod.fails(&["create", "-p", "70000", "demo", "true"], 125);
    rpod.fails(&["create", "--add-host", "nohost", "demo", "true"], 125);
    rpod.fails(&["create", "--dns", "not-an-ip", "demo", "true"], 125);
    rpod.fails(&["create", "--ip", "10.93.99.5", "demo", "true"], 125);
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn static_address_connect_and_disconnect() {
    let rpod = bridged("runc", "10.93.30.0/24");
    rpod.lab_network("front", 31);
    rpod.lab_network("back", 32);
    rpod.detached(&[
        "--name",
        "app",
        "--network",
        "front",
        "--ip",
        "10.93.31.77",
        "--mac-address",
        "92:d0:c6:0a:29:33",
        "--network-alias",
        "api",
        "demo",
        "sleep",
        "300",
    ]);
    let eth0 = rpod.ok(&["exec", "app", "ip", "-o", "addr", "show", "eth0"]);
    assert!(eth0.contains("10.93.31.77/24"), "{eth0}");
    let mac = rpod.ok(&["exec", "app", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(mac, "92:d0:c6:0a:29:33\n");
    // The alias resolves too.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        "demo",
        "nslookup",
        "api",
    ]);
    assert!(out.contains("10.93.31.77"), "{out}");
    // A taken address is refused.
    let err = rpod.fails(
        &[
            "run",
            "--rm",
            "--network",
            "front",
            "--ip",
            "10.93.31.77",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("already allocated"), "{err}");
    // podman's per-network options: each network its own address, MAC and aliases, in
    // the order given (eth0, eth1); the aliases resolve on their network.
    rpod.detached(&[
        "--name",
        "multi",
        "--network",
        "back:ip=10.93.32.40,alias=store",
        "--network",
        "front:ip=10.93.31.41,mac=92:d0:c6:0a:29:41,alias=cache,alias=kv",
        "demo",
        "sleep",
        "300",
    ]);
    let addresses = rpod.ok(&["exec", "multi", "ip", "-4", "-o", "addr"]);
    assert!(
        addresses.contains("eth0    inet 10.93.32.40/24")
            && addresses.contains("eth1    inet 10.93.31.41/24"),
        "{addresses}"
    );
    let mac = rpod.ok(&["exec", "multi", "cat", "/sys/class/net/eth1/address"]);
    assert_eq!(mac, "92:d0:c6:0a:29:41\n");
    for (network, alias, address) in [
        ("front", "kv", "10.93.31.41"),
        ("back", "store", "10.93.32.40"),
    ] {
        let out = rpod.ok(&[
            "run",
            "--rm",
            "--network",
            network,
            "demo",
            "nslookup",
            alias,
        ]);
        assert!(out.contains(address), "{alias}: {out}");
    }
    rpod.ok(&["rm", "-f", "-t", "0", "multi"]);
    for (args, expected) in [
        (vec!["--network", "front:ip=10.93.99.5"], "10.93.99.5"),
        (vec!["--network", "front:mac=zz"], "mac="),
        (vec!["--network", "front:alias=a/b"], "alias="),
        (
            vec!["--network", "front:ip=10.93.31.50", "--ip", "10.93.31.51"],
            "both give",
        ),
        (vec!["--network", "front:color=blue"], "unknown option"),
    ] {
        let mut run = vec!["create"];
        run.extend(args);
        run.extend(["demo", "true"]);
        let err = rpod.fails(&run, 125);
        assert!(err.contains(expected), "{run:?}: {err}");
    }
    // Connect a running container: eth1 appears, and stays across a restart.
    rpod.ok(&["network", "connect", "back", "app"]);
    let eth1 = rpod.ok(&["exec", "app", "ip", "-4", "-o", "addr", "show", "eth1"]);
    assert!(eth1.contains("10.93.32.2/24"), "{eth1}");
    let hosts = rpod.ok(&["exec", "app", "cat", "/etc/hosts"]);
    assert!(hosts.contains("10.93.32.2\t"), "{hosts}");
    rpod.fails(&["network", "connect", "back", "app"], 125);
    rpod.ok(&["stop", "-t", "0", "app"]);
    rpod.ok(&["start", "app"]);
    let both = rpod.ok(&["exec", "app", "ip", "-4", "-o", "addr"]);
    assert!(
        both.contains("eth1") && both.contains("10.93.31.77"),
        "{both}"
    );
    // Disconnect: eth1 goes, and its address is free again.
    rpod.ok(&["network", "disconnect", "back", "app"]);
    let links = rpod.ok(&["exec", "app", "ip", "-o", "link"]);
    assert!(!links.contains("eth1"), "{links}");
    rpod.fails(&["network", "disconnect", "back", "app"], 125);
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "back",
        "demo",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("10.93.32.2/24"), "{out}");
    // Interfaces are named as asked (interface_name=), else the lowest free ethN: a
    // network connected again after another's disconnect takes the free name.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "front:interface_name=lan0",
        "--network",
        "back",
        "demo",
        "ip",
        "-4",
        "-o",
        "addr",
    ]);
    assert!(
        out.contains("lan0    inet 10.93.31.") && out.contains("eth0    inet 10.93.32."),
        "{out}"
    );
    let err = rpod.fails(
        &[
            "create",
            "--network",
            "front:interface_name=lan0",
            "--network",
            "back:interface_name=lan0",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("given to two networks"), "{err}");
    rpod.ok(&["network", "connect", "back", "app"]);
    rpod.ok(&["network", "disconnect", "front", "app"]);
    rpod.ok(&["network", "connect", "front", "app"]);
    let names = rpod.ok(&["exec", "app", "ip", "-4", "-o", "addr"]);
    assert!(
        names.contains("eth1    inet 10.93.32.") && names.contains("eth0    inet 10.93.31."),
        "{names}"
    );
    rpod.ok(&["rm", "-f", "-t", "0", "app"]);
    assert_nothing_left(&rpod, "10.93.31.77", "rpodt31");
    assert_nothing_left(&rpod, "10.93.32.2", "rpodt32");
}

#[test]
fn container_and_namespace_modes_on_runc() {
    check_modes("runc", 41);
}

#[test]
fn container_and_namespace_modes_on_crun() {
    check_modes("crun", 42);
}

fn check_modes(runtime: &str, n: u8) {
    // 10.93.176 and .177: 10.93.141 is dual_stack_networks' (tests run at once, and two
    // networks of one subnet on the host clash; netavark names a network's chains by its
    // name, so a default network of this store's was left behind once).
    let rpod = bridged(runtime, &format!("10.93.{}.0/24", n + 135));
    rpod.lab_network("lab", n);
    rpod.detached(&["--name", "base", "--network", "lab", "demo", "sleep", "300"]);
    let shared = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "container:base",
        "demo",
        "sh",
        "-c",
        "ip -4 -o addr show eth0; cat /etc/resolv.conf",
    ]);
    assert!(shared.contains(&format!("10.93.{n}.2/24")), "{shared}");
    assert!(
        shared.contains(&format!("nameserver 10.93.{n}.1")),
        "{shared}"
    );
    // The other container cannot go while one depends on it.
    rpod.ok(&[
        "create",
        "--name",
        "side",
        "--network",
        "container:base",
        "demo",
        "true",
    ]);
    let err = rpod.fails(&["rm", "-f", "base"], 125);
    assert!(
        err.contains("dependent containers") && err.contains("side"),
        "{err}"
    );
    rpod.ok(&["rm", "side"]);
    // ns:PATH joins a namespace by path.
    let pid = rpod.inspect("base", "{{.State.Pid}}");
    let by_path = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        &format!("ns:/proc/{pid}/ns/net"),
        "demo",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(by_path.contains(&format!("10.93.{n}.2/24")), "{by_path}");
    rpod.fails(
        &["run", "--rm", "--network", "ns:/no/such/ns", "demo", "true"],
        125,
    );
    // container: needs the other one running.
    rpod.ok(&["stop", "-t", "0", "base"]);
    let err = rpod.fails(
        &["run", "--rm", "--network", "container:base", "demo", "true"],
        125,
    );
    assert!(err.contains("must be running"), "{err}");
    // none has a loopback only; host has the host's interfaces and hosts file.
    let none = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "demo",
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(none.lines().count(), 1, "{none}");
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let host = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "demo",
        "readlink",
        "/proc/self/ns/net",
    ]);
    assert_eq!(host.trim(), host_ns.display().to_string());
    let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    let hosts = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "demo",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.contains(host_hosts.trim_end()), "{hosts}");
}

#[test]
fn hosts_and_dns_flags() {
    let rpod = Rpod::with_image("runc");
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--hostname",
        "h1",
        "--name",
        "named",
        "--add-host",
        "db:10.1.2.3",
        "--add-host",
        "a;b:10.1.2.4",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:3",
        "demo",
        "sh",
        "-c",
        "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; hostname",
    ]);
    let parts: Vec<&str> = out.split("---\n").collect();
    assert!(
        parts[0].starts_with("10.1.2.3\tdb\n10.1.2.4\ta b\n"),
        "{out}"
    );
    assert!(parts[0].contains("127.0.0.1\th1 named"), "{out}");
    assert_eq!(
        parts[1],
        "search example.com\nnameserver 192.0.2.53\noptions ndots:3\n"
    );
    assert_eq!(parts[2], "h1\n");
    // The host's loopback name servers are useless in another namespace.
    let resolv = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "demo",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(!resolv.contains("nameserver 127."), "{resolv}");
    assert!(resolv.contains("nameserver"), "{resolv}");
    // --no-hosts leaves the image's /etc/hosts: busybox's has none.
    let out = rpod.run(&["run", "--rm", "--no-hosts", "demo", "cat", "/etc/hosts"]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The files are the container's own: writable, and the image is unchanged.
    rpod.ok(&[
        "run",
        "--rm",
        "demo",
        "sh",
        "-c",
        "echo 10.9.9.9 extra >> /etc/hosts",
    ]);
    let fresh = rpod.ok(&["run", "--rm", "demo", "cat", "/etc/hosts"]);
    assert!(!fresh.contains("extra"), "{fresh}");
    // .containerenv is read-only.
    let out = rpod.run(&[
        "run",
        "--rm",
        "demo",
        "sh",
        "-c",
        "echo x >> /run/.containerenv",
    ]);
    assert!(!out.status.success());
}

#[test]
fn a_killed_monitor_leaves_no_network_behind() {
    let rpod = bridged("runc", "10.93.50.0/24");
    rpod.lab_network("lab", 51);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    rpod.detached(&[
        "--name",
        "web",
        "--network",
        "lab",
        "-p",
        &publish,
        "-e",
        "BODY=x",
        "demo",
        "sh",
        "-c",
        WEB,
    ]);
    wait_until("the port answers", || {
        http_get(port, "/index.html").is_some()
    });
    let conmon: i32 = rpod.inspect("web", "{{.State.ConmonPid}}").parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(conmon),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("conmon is gone", || !pid_alive(conmon));
    rpod.ok(&["rm", "-f", "-t", "0", "web"]);
    assert_nothing_left(&rpod, "10.93.51.2", "rpodt51");
    assert!(http_get(port, "/index.html").is_none());
    // A namespace left bound by a killed rpod (made, never recorded) is removed at the
    // next start, not stacked under a new one.
    rpod.ok(&[
        "create",
        "--name",
        "again",
        "--network",
        "lab",
        "demo",
        "sleep",
        "300",
    ]);
    let id = rpod.inspect("again", "{{.Id}}");
    let stray = rpod.runroot().join("netns").join(&id);
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, "").unwrap();
    let bound = Command::new("unshare")
        .arg(format!("--net={}", stray.display()))
        .arg("true")
        .status()
        .unwrap();
    assert!(bound.success());
    let mounts_of = |path: &std::path::Path| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&path.display().to_string()))
            .count()
    };
    assert_eq!(mounts_of(&stray), 1);
    rpod.ok(&["start", "again"]);
    assert_eq!(
        mounts_of(&stray),
        1,
        "a namespace was stacked on the leftover"
    );
    rpod.ok(&["rm", "-f", "-t", "0", "again"]);
    assert_eq!(mounts_of(&stray), 0);
    assert_nothing_left(&rpod, "10.93.51.2", "rpodt51");
}

/// On hosts that keep /run/systemd/system without a running systemd, netavark would start
/// aardvark-dns through systemd-run, which fails there; rpod runs netavark so that names
/// still resolve. The host is made to look like that inside a private mount namespace.
#[test]
fn names_resolve_on_a_host_with_a_stale_systemd_directory() {
    let rpod = bridged("runc", "10.93.60.0/24");
    let rpod_cmd = format!(
        "{} --root {} --runroot {} --runtime runc",
        env!("CARGO_BIN_EXE_rpod"),
        rpod.root().display(),
        rpod.runroot().display()
    );
    let script = format!(
        "set -e
mkdir -p /run/systemd
mount -t tmpfs tmpfs /run/systemd
mkdir /run/systemd/system
R='{rpod_cmd}'
$R network create --subnet 10.93.61.0/24 --interface-name rpodt61 lab >/dev/null
$R run -d --name web --network lab demo sleep 300 >/dev/null
$R run --rm --network lab demo nslookup web
$R rm -f -t 0 web >/dev/null
$R network rm lab >/dev/null
"
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("RPOD_CONFIG", rpod.config_path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("10.93.61.2"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A namespace no record accounts for (the record lost with a damaged database, say) is
/// torn down by the next bridged start: its address and ports are free again.
#[test]
fn a_namespace_without_a_record_is_swept() {
    let rpod = bridged("runc", "10.93.90.0/24");
    rpod.lab_network("lab", 91);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    rpod.detached(&[
        "--name",
        "ghost",
        "--network",
        "lab",
        "-p",
        &publish,
        "demo",
        "sleep",
        "300",
    ]);
    let id = rpod.inspect("ghost", "{{.Id}}");
    let pid: i32 = rpod.inspect("ghost", "{{.State.Pid}}").parse().unwrap();
    let conmon: i32 = rpod
        .inspect("ghost", "{{.State.ConmonPid}}")
        .parse()
        .unwrap();
    for victim in [conmon, pid] {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(victim),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    wait_until("the ghost's processes are gone", || {
        !pid_alive(pid) && !pid_alive(conmon)
    });
    let db = rusqlite::Connection::open(rpod.root().join("rpod.db")).unwrap();
    db.execute("DELETE FROM containers WHERE id = ?1", [&id])
        .unwrap();
    drop(db);
    assert!(rpod.runroot().join("netns").join(&id).exists());
    // The next container gets the ghost's address and its port.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "lab",
        "-p",
        &publish,
        "demo",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("10.93.91.2/24"), "{out}");
    assert!(!rpod.runroot().join("netns").join(&id).exists());
    assert_nothing_left(&rpod, "10.93.91.2", "rpodt91");
    // What the lost record accounted for besides its network, for the test's own cleanup.
    let merged = rpod
        .root()
        .join("containers")
        .join(&id)
        .join("overlay/merged");
    let _ = Command::new("umount").arg("-l").arg(&merged).status();
    let _ = Command::new("runc")
        .arg("--root")
        .arg(rpod.runroot().join("runtimes/runc"))
        .args(["delete", "--force", &id])
        .status();
}

/// A store whose netavark is a script in front of the real one: its `teardown` waits while
/// the returned hold exists (it writes its PID into `teardown.pid` first). Networks come
/// from `lab`; `--network none` by default.
struct HeldTeardowns {
    /// First, so that it goes first (fields drop in order): the store's own clean-up
    /// would wait for held teardowns.
    hold: Hold,
    rpod: Rpod,
    _helpers: tempfile::TempDir,
    /// The waiting teardown writes its PID here.
    teardown_pid: std::path::PathBuf,
}

/// While this file exists, netavark's teardowns wait; it goes when the test ends, passed
/// or not, so nothing waits for ever.
struct Hold(std::path::PathBuf);

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl HeldTeardowns {
    /// The held teardown's PID (netavark's wrapper), once it runs.
    fn running_teardown(&self) -> i32 {
        wait_until("the teardown runs", || self.teardown_pid.exists());
        rpod_test_support::read_pid_file(&self.teardown_pid)
    }
}

/// Where netavark and aardvark-dns are installed (a test wraps one of them).
fn netavark_dir() -> std::path::PathBuf {
    ["/usr/libexec/podman", "/usr/lib/podman"]
        .iter()
        .map(|dir| std::path::Path::new(dir).to_path_buf())
        .find(|dir| dir.join("netavark").is_file() && dir.join("aardvark-dns").is_file())
        .expect("netavark and aardvark-dns are installed (scripts/install-deps.sh)")
}

fn held_teardowns(runtime: &str) -> HeldTeardowns {
    let helpers = tempfile::tempdir().unwrap();
    let real = netavark_dir();
    let hold = helpers.path().join("hold");
    let teardown_pid = helpers.path().join("teardown.pid");
    let script = helpers.path().join("netavark");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" teardown \"*)\n  echo $$ > {pid}.tmp && mv {pid}.tmp {pid}\n  \
             while [ -e {hold} ]; do sleep 0.05; done\nesac\nexec {real} \"$@\"\n",
            pid = teardown_pid.display(),
            hold = hold.display(),
            real = real.join("netavark").display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(
        real.join("aardvark-dns"),
        helpers.path().join("aardvark-dns"),
    )
    .unwrap();
    let rpod = Rpod::with_config(
        runtime,
        &format!(
            "{NO_NETWORK_CONFIG}[engine]\nhelper_binaries_dir = [\"{}\"]\n",
            helpers.path().display()
        ),
    );
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    std::fs::write(&hold, "").unwrap();
    HeldTeardowns {
        hold: Hold(hold),
        rpod,
        _helpers: helpers,
        teardown_pid,
    }
}

/// Run `args` (a bridged `run --rm`) and wait, at most 20 s, for it to end: it must not wait
/// for its network's teardown. Returns its standard output.
fn run_not_waiting_for_the_teardown(rpod: &Rpod, args: &[&str]) -> String {
    let mut run = rpod
        .command(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the run returns while its teardown is held", || {
        run.try_wait().unwrap().is_some()
    });
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The addresses the store has leased.
fn leased_addresses(rpod: &Rpod) -> Vec<String> {
    let db = rusqlite::Connection::open(rpod.dir.path().join("root").join("rpod.db")).unwrap();
    let mut query = db.prepare("SELECT address FROM network_leases").unwrap();
    let rows = query.query_map([], |row| row.get(0)).unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// A removal hands its container's network teardown to a process of its own and returns:
/// `run --rm` ends while netavark's teardown still runs, and the container's address stays
/// leased until the teardown is done; then nothing is left.
#[test]
fn a_removal_leaves_the_network_teardown_to_a_process_of_its_own() {
    // 10.93.56 and .57 (10.93.44 and .45 are the kube play test's).
    for (runtime, n) in [("runc", 56u8), ("crun", 57)] {
        let held = held_teardowns(runtime);
        let rpod = &held.rpod;
        rpod.lab_network("lab", n);
        let show = ["ip", "-4", "-o", "addr", "show", "eth0"];
        let mut args = vec!["run", "--rm", "--network", "lab", "demo"];
        args.extend(show);
        let first = run_not_waiting_for_the_teardown(rpod, &args);
        assert!(first.contains(&format!("10.93.{n}.2/24")), "{first}");
        let teardown = held.running_teardown();
        assert!(pid_alive(teardown), "{runtime}: the teardown is held");
        assert_eq!(rpod.ok(&["ps", "-a", "-q"]).trim(), "", "{runtime}");
        // The address stays leased while its teardown runs (every netavark call waits
        // for it meanwhile: rpod runs one at a time on a host).
        let address = format!("10.93.{n}.2");
        assert_eq!(leased_addresses(rpod), vec![address.clone()], "{runtime}");
        drop(held.hold);
        assert_nothing_left(rpod, &address, &format!("rpodt{n}"));
        assert_eq!(leased_addresses(rpod), Vec::<String>::new(), "{runtime}");
        let again = rpod.ok(&args);
        assert!(again.contains(&format!("10.93.{n}.2/24")), "{again}");
    }
}

/// `network rm` waits for the teardowns that removals handed over: none finds its network
/// gone.
#[test]
fn network_rm_waits_for_a_handed_over_teardown() {
    let held = held_teardowns("crun");
    let rpod = &held.rpod;
    rpod.lab_network("lab", 46);
    run_not_waiting_for_the_teardown(rpod, &["run", "--rm", "--network", "lab", "demo", "true"]);
    held.running_teardown();
    let mut remove = rpod
        .command(&["network", "rm", "lab"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        remove.try_wait().unwrap().is_none(),
        "network rm went on while a teardown on the network ran"
    );
    drop(held.hold);
    assert!(remove.wait().unwrap().success());
    assert_network_gone("rpodt46", "10.93.46.");
    assert!(network_leftovers(rpod, "rpodt46", "10.93.46.").is_empty());
}

/// A teardown process killed halfway lets go of its namespace's lock: the next container
/// on a network tears the rest down (its sweep of stray namespaces).
#[test]
fn the_next_network_user_finishes_a_killed_teardown() {
    let held = held_teardowns("runc");
    let rpod = &held.rpod;
    rpod.lab_network("lab", 47);
    run_not_waiting_for_the_teardown(rpod, &["run", "--rm", "--network", "lab", "demo", "true"]);
    let netavark = held.running_teardown();
    let helper = rpod_test_support::parent_pid(netavark);
    let helper_argv = std::fs::read(format!("/proc/{helper}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&helper_argv).contains("teardown-network"),
        "{}",
        String::from_utf8_lossy(&helper_argv)
    );
    for pid in [helper, netavark] {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    wait_until("the teardown is gone", || {
        !pid_alive(helper) && !pid_alive(netavark)
    });
    drop(held.hold);
    assert_eq!(
        std::fs::read_dir(rpod.runroot().join("netns"))
            .unwrap()
            .count(),
        2,
        "the namespace and its options are left"
    );
    rpod.ok(&["run", "--rm", "--network", "lab", "demo", "true"]);
    assert_nothing_left(rpod, "10.93.47.2", "rpodt47");
}

/// `container teardown-network` (which removals start) refuses what is not a container's
/// ID and a container that is not being removed; run by hand for a container that is gone,
/// without the lock on its standard input, it takes the lock itself and leaves nothing.
#[test]
fn the_teardown_command_takes_only_removed_containers() {
    let rpod = Rpod::with_image("runc");
    let err = rpod.fails(&["container", "teardown-network", "../etc"], 125);
    assert!(err.contains("is not a container ID"), "{err}");
    let id = rpod.ok(&["create", "demo", "true"]).trim().to_string();
    let err = rpod.fails(&["container", "teardown-network", &id], 125);
    assert!(err.contains("is not being removed"), "{err}");
    let gone = "cd".repeat(32);
    rpod.ok(&["container", "teardown-network", &gone]);
    let locks: Vec<String> = std::fs::read_dir(rpod.runroot().join("locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("netns-"))
        .collect();
    assert!(locks.is_empty(), "{locks:?}");
    assert_eq!(rpod.ok(&["ps", "-a", "-q", "--no-trunc"]).trim(), id);
}

#[test]
fn ip_ranges_ipam_drivers_and_listings() {
    let rpod = bridged("runc", "10.93.80.0/24");
    rpod.ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.81.0/24",
        "--ip-range",
        "10.93.81.64/30",
        "--interface-name",
        "rpodt81",
        "ranged",
    ]);
    let shown = rpod.ok(&["network", "inspect", "ranged"]);
    // podman's reading: the range's network address is left out.
    assert!(shown.contains("\"start_ip\": \"10.93.81.65\""), "{shown}");
    assert_eq!(
        rpod.ok(&[
            "network",
            "inspect",
            "--format",
            "{{range .Subnets}}{{.LeaseRange.StartIP}}-{{.LeaseRange.EndIP}}{{end}}",
            "ranged"
        ]),
        "10.93.81.65-10.93.81.67\n"
    );
    assert!(shown.contains("\"end_ip\": \"10.93.81.67\""), "{shown}");
    // Containers get addresses from the range only, lowest first, until it runs out.
    let mut given = Vec::new();
    for name in ["a", "b", "c"] {
        rpod.detached(&[
            "--name",
            name,
            "--network",
            "ranged",
            "demo",
            "sleep",
            "300",
        ]);
        given.push(rpod.inspect(
            name,
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        ));
    }
    assert_eq!(given, ["10.93.81.65", "10.93.81.66", "10.93.81.67"]);
    let err = rpod.fails(&["run", "--rm", "--network", "ranged", "demo", "true"], 125);
    assert!(err.contains("no free address"), "{err}");
    // Networks containers join, and those none does (podman's dangling filter).
    let listed = |filter: &str| {
        rpod.ok(&[
            "network",
            "ls",
            "--noheading",
            "--format",
            "{{.Name}}",
            "--filter",
            filter,
        ])
    };
    assert_eq!(listed("dangling=false"), "ranged\n");
    assert_eq!(listed("dangling=true"), "def80\n");
    assert_eq!(listed("until=2000-01-01"), "");
    rpod.fails(&["network", "ls", "--filter", "dangling=maybe"], 125);
    rpod.ok(&["rm", "-f", "-t", "0", "a", "b", "c"]);
    wait_for_network_teardowns(&rpod);
    // A range needs a subnet and must lie inside it; other address managers are not there.
    for (flags, message) in [
        (vec!["--ip-range", "10.93.82.0/28"], "needs its --subnet"),
        (vec!["--gateway", "10.93.82.1"], "needs its --subnet"),
        (
            vec!["--subnet", "10.93.83.0/24", "--ip-range", "10.93.83.0/32"],
            "no host address",
        ),
        (
            vec!["--subnet", "10.93.83.0/24", "--ip-range", "10.93.84.0/28"],
            "not inside",
        ),
        (
            vec!["--ip-range", "nonsense", "--subnet", "10.93.83.0/24"],
            "invalid --ip-range",
        ),
        (vec!["--ipam-driver", "dhcp"], "IPAM driver"),
        (
            vec!["--ipam-driver", "none", "--subnet", "10.93.83.0/24"],
            "gives no addresses",
        ),
        (
            vec!["--subnet", "fd93:83::/64", "--subnet", "fd93:83::/56"],
            "overlaps",
        ),
    ] {
        let mut args = vec!["network", "create"];
        args.extend_from_slice(&flags);
        args.push("refused");
        let err = rpod.fails(&args, 125);
        assert!(err.contains(message), "{flags:?}: {err}");
    }
    rpod.ok(&[
        "network",
        "create",
        "--ipam-driver",
        "host-local",
        "--subnet",
        "10.93.85.0/24",
        "--interface-name",
        "rpodt85",
        "plain",
    ]);
    let listing = rpod.ok(&["network", "ls", "--noheading", "--format", "{{.Name}}"]);
    assert_eq!(listing, "def80\nplain\nranged\n");
    assert!(rpod.ok(&["network", "ls"]).starts_with("NETWORK ID"));
    // --ipam-driver none: an interface without addresses (the container sets its own);
    // nothing to publish ports on.
    rpod.ok(&[
        "network",
        "create",
        "--ipam-driver",
        "none",
        "--interface-name",
        "rpodt170",
        "bare",
    ]);
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "bare",
        "demo",
        "ip",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("eth0") && !out.contains("inet "), "{out}");
    let err = rpod.fails(
        &[
            "run",
            "--rm",
            "--network",
            "bare",
            "-p",
            "8086:80",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("with addresses"), "{err}");
    rpod.ok(&["network", "rm", "plain", "ranged", "bare"]);
}

/// IPv6 as podman has it: a dual-stack network with its gateways given; a container gets
/// an address of each family (one asked for with `--ip6` or `ip6=`), both in /etc/hosts,
/// both gateways as name servers, its IPv6 name resolved by the others, and is reached
/// over IPv6 from the host, directly and through a published port; `--ipv6` alone makes
/// a unique local /64 beside an IPv4 subnet; nothing is left after the removal.
#[test]
fn dual_stack_networks() {
    let rpod = bridged("crun", "10.93.140.0/24");
    rpod.ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.141.0/24",
        "--gateway",
        "10.93.141.254",
        "--subnet",
        "fd93:141::/64",
        "--gateway",
        "fd93:141::fe",
        "--interface-name",
        "rpodt141",
        "dual",
    ]);
    let shown = rpod.ok(&[
        "network",
        "inspect",
        "--format",
        "{{.IPv6Enabled}} {{range .Subnets}}{{.Subnet}}={{.Gateway}} {{end}}",
        "dual",
    ]);
    assert_eq!(
        shown.trim(),
        "true 10.93.141.0/24=10.93.141.254 fd93:141::/64=fd93:141::fe"
    );
    rpod.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "dual",
        "--ip6",
        "fd93:141::80",
        "-p",
        "18141:80",
        "-e",
        "BODY=over-six",
        "demo",
        "sh",
        "-c",
        WEB,
    ]);
    let eth0 = rpod.ok(&["exec", "web", "ip", "-o", "addr", "show", "eth0"]);
    // The IPv4 gateway is .254, so .1 is the first free address.
    assert!(
        eth0.contains("inet 10.93.141.1/24") && eth0.contains("inet6 fd93:141::80/64"),
        "{eth0}"
    );
    let routes = rpod.ok(&["exec", "web", "ip", "-6", "route"]);
    assert!(routes.contains("default via fd93:141::fe"), "{routes}");
    let hosts = rpod.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains("10.93.141.1\t") && hosts.contains("fd93:141::80\t"),
        "{hosts}"
    );
    let resolv = rpod.ok(&["exec", "web", "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains("nameserver 10.93.141.254\nnameserver fd93:141::fe\n"),
        "{resolv}"
    );
    assert_eq!(
        rpod.inspect(
            "web",
            "{{.NetworkSettings.GlobalIPv6Address}}/{{.NetworkSettings.GlobalIPv6PrefixLen}} \
             {{.NetworkSettings.IPv6Gateway}} {{.NetworkSettings.IPAddress}}"
        ),
        "fd93:141::80/64 fd93:141::fe 10.93.141.1"
    );
    // aardvark-dns answers the name with the IPv6 address.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "dual",
        "demo",
        "nslookup",
        "-type=AAAA",
        "web",
    ]);
    assert!(out.contains("fd93:141::80"), "{out}");
    // The host reaches the container over IPv6, and its published port on the bridge's
    // IPv6 address (netavark's ip6tables rules).
    // Given time, as a loaded machine may need; a failure says what the host and the
    // container had (CI once saw no answer in five seconds, never seen here).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut body = try_http_get_at("fd93:141::80", 80, "/index.html");
    while body.is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        body = try_http_get_at("fd93:141::80", 80, "/index.html");
    }
    if let Err(why) = &body {
        let host = [
            vec!["-6", "addr", "show", "dev", "rpodt141"],
            vec!["-6", "route", "get", "fd93:141::80"],
            vec!["-6", "neigh", "show", "dev", "rpodt141"],
            vec!["link", "show", "master", "rpodt141"],
        ]
        .iter()
        .map(|args| host_command("ip", args))
        .collect::<Vec<_>>()
        .join("");
        let inside = rpod.run(&[
            "exec",
            "web",
            "sh",
            "-c",
            "ip -6 addr; ip -6 neigh; netstat -ltn",
        ]);
        panic!(
            "no answer over IPv6: {why}\nhost:\n{host}\ncontainer:\n{}{}\nip6tables:\n{}",
            String::from_utf8_lossy(&inside.stdout),
            String::from_utf8_lossy(&inside.stderr),
            host_command("ip6tables-save", &[])
        );
    }
    assert_eq!(body.as_deref(), Ok("over-six\n"));
    assert_eq!(
        http_get_at("fd93:141::fe", 18141, "/index.html").as_deref(),
        Some("over-six\n")
    );
    // podman's per-network option; both families asked for.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "dual:ip6=fd93:141::81,ip=10.93.141.81",
        "demo",
        "ip",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(
        out.contains("inet 10.93.141.81/24") && out.contains("inet6 fd93:141::81/64"),
        "{out}"
    );
    for (flags, message) in [
        (vec!["--ip6", "fd93:141::80"], "already allocated"),
        (vec!["--ip6", "fd93:141::fe"], "gateway"),
        (vec!["--ip6", "fd93:999::1"], "not in any subnet"),
        (
            vec!["--ip6", "10.93.141.9"],
            "invalid argument \"10.93.141.9\" for \"--ip6\"",
        ),
        (
            vec!["--network", "dual:ip6=10.93.141.9"],
            "not an IPv6 address",
        ),
        // A port on an IPv6 host address of a container without an IPv6 subnet would
        // reach nothing.
        (
            vec!["--network", "def140", "-p", "[::1]:18142:80"],
            "an IPv6 address, but no network",
        ),
    ] {
        // Addresses are leased at the start, the rest is checked at the create.
        let mut args = vec!["run", "--rm"];
        if !flags[0].starts_with("--network") {
            args.extend(["--network", "dual"]);
        }
        args.extend(&flags);
        args.extend(["demo", "true"]);
        let err = rpod.fails(&args, 125);
        assert!(err.contains(message), "{flags:?}: {err}");
    }
    // The addresses stay across a restart; a connected container gets its own.
    rpod.ok(&["restart", "-t", "0", "web"]);
    assert_eq!(
        rpod.inspect("web", "{{.NetworkSettings.GlobalIPv6Address}}"),
        "fd93:141::80"
    );
    rpod.detached(&["--name", "side", "demo", "sleep", "300"]);
    rpod.ok(&[
        "network",
        "connect",
        "--ip6",
        "fd93:141::90",
        "dual",
        "side",
    ]);
    let eth1 = rpod.ok(&["exec", "side", "ip", "-o", "addr", "show", "eth1"]);
    assert!(eth1.contains("inet6 fd93:141::90/64"), "{eth1}");
    // A pod's address, its infra container's, which its containers share.
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "six",
        "--network",
        "dual",
        "--ip6",
        "fd93:141::70",
    ]);
    let out = rpod.ok(&[
        "run", "--rm", "--pod", "six", "demo", "ip", "-o", "addr", "show", "eth0",
    ]);
    assert!(out.contains("inet6 fd93:141::70/64"), "{out}");
    rpod.ok(&["pod", "rm", "-f", "-t", "0", "six"]);
    // --ipv6 alone: a free IPv4 /24 and a random unique local /64.
    rpod.ok(&[
        "network",
        "create",
        "--ipv6",
        "--interface-name",
        "rpodt142",
        "auto6",
    ]);
    let subnets = rpod.ok(&[
        "network",
        "inspect",
        "--format",
        "{{range .Subnets}}{{.Subnet}} {{end}}",
        "auto6",
    ]);
    let subnets: Vec<&str> = subnets.split_whitespace().collect();
    assert_eq!(subnets.len(), 2, "{subnets:?}");
    assert!(
        subnets[0].starts_with("10.89.")
            && subnets[1].starts_with("fd")
            && subnets[1].ends_with("::/64"),
        "{subnets:?}"
    );
    rpod.ok(&["network", "rm", "auto6"]);
    rpod.ok(&["rm", "-f", "-t", "0", "web", "side"]);
    wait_for_network_teardowns(&rpod);
    rpod.ok(&["network", "rm", "dual"]);
    assert_network_gone("rpodt141", "10.93.141.");
    assert_network_gone("rpodt141", "fd93:141:");
}

/// A veth pair of the test's own, the parent of its macvlan networks (this kernel has no
/// dummy interfaces); removed when dropped.
struct ParentLink(&'static str);

impl ParentLink {
    fn new(name: &'static str, peer: &str) -> ParentLink {
        let _ = Command::new("ip").args(["link", "del", name]).status();
        for args in [
            vec!["link", "add", name, "type", "veth", "peer", "name", peer],
            vec!["link", "set", name, "up"],
            vec!["link", "set", peer, "up"],
        ] {
            let status = Command::new("ip").args(&args).status().unwrap();
            assert!(status.success(), "ip {args:?}");
        }
        ParentLink(name)
    }
}

impl Drop for ParentLink {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", self.0]).status();
    }
}

/// macvlan networks as podman makes them: the containers' interfaces are macvlan devices
/// on a host interface, addressed by rpod (a subnet is required), reaching each other in
/// the default bridge mode and not in private mode; no name server and no published ports
/// (refused: netavark forwards ports to bridges only); bad parents, modes and drivers are
/// refused.
#[test]
fn macvlan_networks() {
    let rpod = bridged("crun", "10.93.160.0/24");
    let parent = ParentLink::new("rpodtmv160", "rpodtmv160p");
    rpod.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        &format!("parent={}", parent.0),
        "--subnet",
        "10.93.161.0/24",
        "mv",
    ]);
    assert_eq!(
        rpod.ok(&[
            "network",
            "inspect",
            "--format",
            "{{.Driver}} {{.NetworkInterface}} {{.DNSEnabled}}",
            "mv"
        ]),
        "macvlan rpodtmv160 false\n"
    );
    rpod.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "--interface-name",
        parent.0,
        "-o",
        "mode=private",
        "--subnet",
        "10.93.162.0/24",
        "mvp",
    ]);
    let serve = "mkdir -p /www && echo reached > /www/index.html && exec httpd -f -p 80 -h /www";
    for (name, network) in [("web", "mv"), ("lone", "mvp")] {
        rpod.detached(&[
            "--name",
            name,
            "--network",
            network,
            "demo",
            "sh",
            "-c",
            serve,
        ]);
    }
    let fetch = |network: &str, address: &str| {
        rpod.ok(&[
            "run",
            "--rm",
            "--network",
            network,
            "demo",
            "sh",
            "-c",
            &format!("ip -4 -o addr show eth0; timeout 3 wget -qO- http://{address}/index.html; cat /etc/resolv.conf"),
        ])
    };
    let out = fetch("mv", "10.93.161.2");
    assert!(out.contains("inet 10.93.161.3/24"), "{out}");
    assert!(out.contains("reached"), "{out}");
    // No aardvark-dns on a macvlan network.
    assert!(!out.contains("nameserver 10.93.161.1"), "{out}");
    // Private mode: the two macvlan interfaces do not reach each other.
    let out = fetch("mvp", "10.93.162.2");
    assert!(out.contains("inet 10.93.162.3/24"), "{out}");
    assert!(!out.contains("reached"), "{out}");
    for (args, message) in [
        (
            vec![
                "run",
                "--rm",
                "--network",
                "mv",
                "-p",
                "8080:80",
                "demo",
                "true",
            ],
            "need a bridge network",
        ),
        (
            vec![
                "network",
                "create",
                "-d",
                "macvlan",
                "-o",
                "parent=rpodtmv160",
                "x",
            ],
            "needs --subnet",
        ),
        (
            vec![
                "network",
                "create",
                "-d",
                "macvlan",
                "-o",
                "parent=rpodtnone",
                "--subnet",
                "10.93.163.0/24",
                "x",
            ],
            "does not exist",
        ),
        (
            vec![
                "network",
                "create",
                "-d",
                "macvlan",
                "-o",
                "parent=rpodtmv160",
                "-o",
                "mode=weird",
                "--subnet",
                "10.93.163.0/24",
                "x",
            ],
            "invalid macvlan mode",
        ),
        (
            vec!["network", "create", "-o", "parent=rpodtmv160", "x"],
            "option of macvlan",
        ),
        (vec!["network", "create", "-d", "ipvlan", "x"], "ipvlan"),
    ] {
        let err = rpod.fails(&args, 125);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    rpod.ok(&["rm", "-f", "-t", "0", "web", "lone"]);
    wait_for_network_teardowns(&rpod);
    rpod.ok(&["network", "rm", "mv", "mvp"]);
    let namespaces = std::fs::read_dir(rpod.runroot().join("netns"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(namespaces, 0);
}

/// Two stores that gave their networks the same bridge name: while the first one's
/// containers use the bridge, the second network is refused on it (netavark would put its
/// subnet on the same bridge), and removing the second network leaves the first one's
/// bridge, anchor and firewall rules alone.
#[test]
fn a_bridge_another_stores_network_uses_is_left_to_it() {
    let first = bridged("crun", "10.93.97.0/24");
    let second = Rpod::with_image("crun");
    second.ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.98.0/24",
        "--interface-name",
        "rpodt97",
        "other",
    ]);
    first.detached(&["--name", "web", "demo", "sleep", "300"]);
    let err = second.fails(&["run", "--rm", "--network", "other", "demo", "true"], 125);
    assert!(
        err.contains("bridge rpodt97 of network other is in use by another network")
            && err.contains("10.93.97.1"),
        "{err}"
    );
    assert_eq!(second.ok(&["ps", "-a", "-q"]), "");
    second.ok(&["network", "rm", "other"]);
    let ports = host_command("ip", &["-o", "link", "show", "master", "rpodt97"]);
    assert!(
        ports.contains(": rpk"),
        "the first network's anchor went: {ports}"
    );
    let rules = host_command("iptables-save", &["-t", "nat"]);
    assert!(rules.contains("-s 10.93.97.0/24"), "{rules}");
    assert_network_gone("rpodt98", "10.93.98.");
    assert_eq!(first.ok(&["exec", "web", "echo", "still"]), "still\n");
    first.ok(&["rm", "-f", "-t", "0", "web"]);
    assert_nothing_left(&first, "10.93.97.2", "rpodt97");
    // The default network goes with a reset only.
    first.ok(&["system", "reset", "--force"]);
    assert_network_gone("rpodt97", "10.93.97.");
}

/// `--network-config-dir` (and rpod.conf's `network_config_dir`): networks are defined
/// there; a container on one of them is torn down by its exit command, and restarted by it
/// (which needs the directory, given to it); without it the network is not known, as
/// podman's.
#[test]
fn networks_are_defined_in_the_network_config_dir() {
    let rpod = Rpod::with_image("crun");
    let elsewhere = tempfile::tempdir().unwrap();
    let nets = elsewhere.path().join("nets");
    let dir_flag = format!("--network-config-dir={}", nets.display());
    rpod.ok(&[
        &dir_flag,
        "network",
        "create",
        "--subnet",
        "10.93.201.0/24",
        "--interface-name",
        "rpodt201",
        "elsewhere",
    ]);
    assert!(nets.join("elsewhere.json").is_file());
    assert!(!rpod.root().join("networks/elsewhere.json").exists());
    let listed = rpod.ok(&[&dir_flag, "network", "ls", "--format", "{{.Name}}"]);
    assert!(listed.lines().any(|l| l == "elsewhere"), "{listed}");
    let listed = rpod.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!listed.contains("elsewhere"), "{listed}");
    rpod.ok(&[
        &dir_flag,
        "run",
        "-d",
        "--name",
        "away",
        "--network",
        "elsewhere",
        "demo",
        "sleep",
        "300",
    ]);
    let address = rpod.ok(&["exec", "away", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(address.contains("10.93.201."), "{address}");
    // Killed by a command without the flag: the exit command tears the network down.
    rpod.ok(&["kill", "away"]);
    wait_until("the exit command's teardown", || {
        network_leftovers(&rpod, "rpodt201", "10.93.201.").is_empty()
    });
    assert_eq!(rpod.inspect("away", "{{.State.Status}}"), "exited");
    // A restart policy's start comes from the exit command, which finds the network.
    rpod.ok(&[
        &dir_flag,
        "run",
        "-d",
        "--name",
        "again",
        "--restart",
        "on-failure:1",
        "--network",
        "elsewhere",
        "demo",
        "sh",
        "-c",
        "echo ran; sleep 0.2; exit 3",
    ]);
    wait_until("the restart and the second exit", || {
        rpod.ok(&["logs", "again"]) == "ran\nran\n"
            && rpod.inspect("again", "{{.State.Status}}") == "exited"
    });
    assert_eq!(rpod.inspect("again", "{{.RestartCount}}"), "1");
    rpod.ok(&["rm", "again"]);
    let err = rpod.fails(&["start", "away"], 125);
    assert!(err.contains("network not found"), "{err}");
    rpod.set_config(&format!(
        "{NO_NETWORK_CONFIG}[network]\nnetwork_config_dir = \"{}\"\n",
        nets.display()
    ));
    rpod.ok(&["start", "away"]);
    rpod.ok(&["rm", "-f", "-t", "0", "away"]);
    assert_eq!(
        network_leftovers(&rpod, "rpodt201", "10.93.201."),
        Vec::<String>::new()
    );
    rpod.ok(&["network", "rm", "elsewhere"]);
    assert!(!nets.join("elsewhere.json").exists());
    assert_network_gone("rpodt201", "10.93.201.");
}

/// `kube play` on a bridged store: a pod's `hostPort` (on `hostIP`) reaches its container,
/// a container's `securityContext` (user, group, read-only root, dropped capabilities)
/// holds inside it, `hostNetwork` puts a pod in the host's namespace; `kube down` leaves
/// nothing of their networking.
#[test]
fn kube_play_publishes_host_ports_and_applies_security_contexts() {
    let rpod = bridged("crun", "10.93.87.0/24");
    let port = free_port();
    let yaml = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: shop}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: demo
    command: ["sh", "-c", "mkdir -p /tmp/www && echo kube-web > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www"]
    ports:
    - {{containerPort: 80, hostPort: {port}, hostIP: 127.0.0.1}}
  - name: locked
    image: demo
    command: ["sleep", "1000"]
    securityContext:
      runAsUser: 1000
      runAsGroup: 1001
      readOnlyRootFilesystem: true
      capabilities: {{drop: [ALL]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: hosted}}
spec:
  hostNetwork: true
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: demo
    command: ["sleep", "1000"]
"#
    );
    let file = rpod.dir.path().join("shop.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    let served = || {
        let mut body = None;
        for _ in 0..100 {
            body = http_get(port, "/index.html");
            if body.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        body
    };
    assert_eq!(served().as_deref(), Some("kube-web\n"));
    assert_eq!(
        rpod.ok(&["exec", "shop-locked", "id"]),
        "uid=1000(1000) gid=1001(1001) groups=1001(1001)\n"
    );
    rpod.fails(&["exec", "shop-locked", "touch", "/made"], 1);
    let status = rpod.ok(&["exec", "shop-locked", "grep", "CapBnd", "/proc/self/status"]);
    assert!(status.contains("0000000000000000"), "{status}");
    // The pod's address is its infra container's.
    let infra = rpod.ok(&[
        "pod",
        "inspect",
        "--format",
        "{{.InfraContainerID}}",
        "shop",
    ]);
    let ip = rpod.inspect(infra.trim(), "{{.NetworkSettings.IPAddress}}");
    assert!(ip.starts_with("10.93.87."), "{ip}");
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let hosted = rpod.ok(&["exec", "hosted-main", "readlink", "/proc/self/ns/net"]);
    assert_eq!(hosted.trim(), host_ns.display().to_string());
    // generate kube gives the pods back: the published port, the security context, the
    // host network; the default network is no loss to warn about.
    for (pod, says) in [
        ("shop", format!("hostPort: {port}")),
        ("shop", "runAsGroup: 1001".to_string()),
        ("hosted", "hostNetwork: true".to_string()),
    ] {
        let out = rpod.command(&["generate", "kube", pod]).output().unwrap();
        let (yaml, warned) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success() && yaml.contains(&says),
            "{yaml}{warned}"
        );
        assert!(!warned.contains("network"), "{warned}");
    }
    // --service: a NodePort Service for the published port, before its pod (none for a
    // pod that publishes nothing); played again, the Service is read and nothing is made
    // of it: the pod publishes by its hostPort as before.
    let out = rpod
        .command(&["generate", "kube", "--service", "shop", "hosted"])
        .output()
        .unwrap();
    let (generated, warned) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{generated}{warned}");
    assert_eq!(generated.matches("kind: Service").count(), 1, "{generated}");
    for says in [
        "type: NodePort",
        "targetPort: 80",
        "nodePort: 3",
        "app: shop",
    ] {
        assert!(generated.contains(says), "{says}: {generated}");
    }
    assert!(generated.find("kind: Service") < generated.find("kind: Pod"));
    assert!(
        warned.contains("hosted") && warned.contains("no port"),
        "{warned}"
    );
    rpod.ok(&["kube", "down", &file]);
    let again = rpod.dir.path().join("generated.yaml");
    std::fs::write(&again, &generated).unwrap();
    let out = rpod
        .command(&["kube", "play", again.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Service shop: not played"),
        "{out:?}"
    );
    assert_eq!(served().as_deref(), Some("kube-web\n"));
    rpod.ok(&["kube", "down", &file]);
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert!(
        http_get(port, "/index.html").is_none(),
        "the port is still forwarded"
    );
    assert_nothing_left(&rpod, &ip, "rpodt87");
}

/// `network create -o mtu=N`: netavark gives the bridge and the containers' interfaces that
/// MTU; other options and bad values are refused, making nothing.
#[test]
fn a_networks_mtu_reaches_its_bridge_and_containers() {
    let rpod = bridged("runc", "10.93.88.0/24");
    rpod.ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.89.0/24",
        "--interface-name",
        "rpodt89",
        "-o",
        "mtu=1400",
        "small",
    ]);
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "small",
        "demo",
        "cat",
        "/sys/class/net/eth0/mtu",
    ]);
    assert_eq!(out, "1400\n");
    // The bridge keeps it once the container has left (its idle anchor has it too).
    wait_for_network_teardowns(&rpod);
    let bridge = std::fs::read_to_string("/sys/class/net/rpodt89/mtu").unwrap();
    assert_eq!(bridge, "1400\n");
    assert_eq!(
        rpod.ok(&["network", "inspect", "--format", "{{.Options}}", "small"]),
        "map[mtu:1400]\n"
    );
    for (option, code) in [("mtu=10", 125), ("vlan=5", 125), ("mtu", 125)] {
        let err = rpod.fails(
            &[
                "network",
                "create",
                "--subnet",
                "10.93.93.0/24",
                "-o",
                option,
                "other",
            ],
            code,
        );
        assert!(
            err.contains("mtu") || err.contains("vlan"),
            "{option}: {err}"
        );
    }
    rpod.fails(&["network", "inspect", "other"], 125);
    rpod.ok(&["network", "rm", "small"]);
    assert_network_gone("rpodt89", "10.93.89.");
}

/// `kube play --network NAME`: every pod of the file joins that network instead of the
/// default (its address in the network's subnet); a pod with `hostNetwork` refuses it, and
/// `kube down` leaves nothing of the pod's networking.
#[test]
fn kube_play_joins_the_network_it_is_given() {
    let rpod = bridged("crun", "10.93.74.0/24");
    rpod.lab_network("kubenet", 75);
    let yaml = "kind: Pod\nmetadata: {name: joined}\nspec:\n  restartPolicy: Never\n  \
        terminationGracePeriodSeconds: 0\n  containers:\n  - {name: main, image: demo, command: [sleep, '1000']}\n";
    let file = rpod.dir.path().join("joined.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", "--network", "kubenet", &file]);
    let infra = rpod.ok(&[
        "pod",
        "inspect",
        "--format",
        "{{.InfraContainerID}}",
        "joined",
    ]);
    let ip = rpod.inspect(
        infra.trim(),
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    assert!(ip.starts_with("10.93.75."), "{ip}");
    let inside = rpod.ok(&["exec", "joined-main", "ip", "-4", "-o", "addr"]);
    assert!(inside.contains(&ip), "{inside}");
    rpod.ok(&["kube", "down", &file]);
    assert_nothing_left(&rpod, &ip, "rpodt75");

    std::fs::write(
        &file,
        yaml.replace(
            "restartPolicy: Never",
            "restartPolicy: Never\n  hostNetwork: true",
        ),
    )
    .unwrap();
    let err = rpod.fails(&["kube", "play", "--network", "kubenet", &file], 125);
    assert!(err.contains("hostNetwork"), "{err}");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    rpod.ok(&["network", "rm", "kubenet"]);
}

/// `kube play`'s per-pod addresses (`--ip`, `--mac-address`, in the file's order), and its
/// options for every container: annotations, log options, `--no-hosts`.
#[test]
fn kube_play_gives_pods_their_addresses_and_containers_their_options() {
    let rpod = bridged("crun", "10.93.44.0/24");
    let pod = |name: &str| {
        format!(
            "---\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  restartPolicy: Never\n  \
             terminationGracePeriodSeconds: 0\n  containers:\n  \
             - {{name: main, image: demo, command: [sleep, '1000']}}\n"
        )
    };
    let file = rpod.dir.path().join("two.yaml");
    std::fs::write(&file, format!("{}{}", pod("first"), pod("second"))).unwrap();
    let file = file.display().to_string();
    let out = rpod.run(&[
        "kube",
        "play",
        "--ip",
        "10.93.44.77",
        "--mac-address",
        "02:42:0a:5d:2c:4d",
        "--annotation",
        "team=db",
        "--log-opt",
        "tag=kubed",
        "--log-opt",
        "max-size=2mb",
        "--no-hosts",
        &file,
    ]);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("no --ip left for pod second"), "{said}");
    assert!(
        said.contains("no --mac-address left for pod second"),
        "{said}"
    );
    let first = rpod.ok(&["exec", "first-main", "ip", "-o", "addr", "show", "eth0"]);
    assert!(first.contains("inet 10.93.44.77/24"), "{first}");
    let link = rpod.ok(&["exec", "first-main", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(link.trim(), "02:42:0a:5d:2c:4d");
    let second = rpod.ok(&[
        "exec",
        "second-main",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(
        second.contains("10.93.44.") && !second.contains(".77/"),
        "{second}"
    );
    for name in ["first-main", "second-main"] {
        assert_eq!(
            rpod.inspect(
                name,
                "{{index .Config.Annotations \"team\"}} {{.HostConfig.LogConfig.Tag}} {{.HostConfig.LogConfig.Size}}"
            ),
            "db kubed 2MB"
        );
        // The image's /etc/hosts (it has none of its own: no file is bound there).
        let hosts = rpod.run(&["exec", name, "grep", "-q", "first", "/etc/hosts"]);
        assert!(
            !hosts.status.success(),
            "{name}: rpod's /etc/hosts was made"
        );
    }
    rpod.ok(&["kube", "down", &file]);
    // An IPv6 --ip is the pod's address in its network's IPv6 subnet.
    rpod.ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.45.0/24",
        "--subnet",
        "fd93:45::/64",
        "--interface-name",
        "rpodt45",
        "k6",
    ]);
    rpod.ok(&[
        "kube",
        "play",
        "--network",
        "k6",
        "--ip",
        "fd93:45::5",
        "--ip",
        "10.93.45.6",
        &file,
    ]);
    let first = rpod.ok(&["exec", "first-main", "ip", "-o", "addr", "show", "eth0"]);
    assert!(first.contains("inet6 fd93:45::5/64"), "{first}");
    let second = rpod.ok(&["exec", "second-main", "ip", "-o", "addr", "show", "eth0"]);
    assert!(second.contains("inet 10.93.45.6/24"), "{second}");
    rpod.ok(&["kube", "down", &file]);
    wait_for_network_teardowns(&rpod);
    rpod.ok(&["network", "rm", "k6"]);
    let err = rpod.fails(
        &["kube", "play", "--log-opt", "path=/tmp/x.log", &file],
        125,
    );
    assert!(err.contains("cannot share one log file"), "{err}");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    assert_nothing_left(&rpod, "10.93.44.77", "rpodt44");
}

/// netavark returns before aardvark-dns listens (on a loaded host, tens of milliseconds
/// later): a container's first lookup must still be answered. Here aardvark-dns is made to
/// start listening 0.8 s after netavark started it; the container looks its own name up
/// at once.
#[test]
fn a_containers_first_lookup_finds_aardvark_dns_listening() {
    let helpers = tempfile::tempdir().unwrap();
    let real = netavark_dir();
    std::os::unix::fs::symlink(real.join("netavark"), helpers.path().join("netavark")).unwrap();
    let script = helpers.path().join("aardvark-dns");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" run \"*)\n  (sleep 0.8; exec {real} \"$@\") \
             >/dev/null 2>&1 &\n  exit 0;;\nesac\nexec {real} \"$@\"\n",
            real = real.join("aardvark-dns").display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let rpod = Rpod::with_config(
        "crun",
        &format!(
            "{NO_NETWORK_CONFIG}[engine]\nhelper_binaries_dir = [\"{}\"]\n",
            helpers.path().display()
        ),
    );
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    rpod.lab_network("slowdns", 182);
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--name",
        "first",
        "--network",
        "slowdns",
        "demo",
        "nslookup",
        "first",
    ]);
    assert!(out.contains("10.93.182."), "{out}");
}

/// On a network with DNS, a pod answers by its name (its infra container's entry, as
/// podman's), with the address its containers share.
#[test]
fn a_pod_answers_by_its_name() {
    let rpod = bridged("crun", "10.93.184.0/24");
    rpod.lab_network("podnet", 183);
    rpod.ok(&["pod", "create", "--name", "shop", "--network", "podnet"]);
    rpod.detached(&["--pod", "shop", "--name", "till", "demo", "sleep", "300"]);
    let address = rpod.ok(&["exec", "till", "ip", "-4", "-o", "addr", "show", "eth0"]);
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--network",
        "podnet",
        "demo",
        "nslookup",
        "shop",
    ]);
    assert!(out.contains("10.93.183."), "{out}");
    let ip = out
        .lines()
        .filter_map(|l| l.strip_prefix("Address: "))
        .next_back()
        .unwrap();
    assert!(address.contains(&format!("{ip}/24")), "{address} {out}");
}

/// A bridge's subnet that the host routes already (here another store's bridge, made for
/// its container) is refused, as podman refuses it; free again once that network is gone.
#[test]
fn a_subnet_the_host_routes_is_refused() {
    let first = Rpod::with_image("crun");
    first.lab_network("taken", 195);
    let id = first.detached(&["--network", "taken", "demo", "sleep", "300"]);
    let second = Rpod::with_image("crun");
    let create = [
        "network",
        "create",
        "--subnet",
        "10.93.195.128/25",
        "--interface-name",
        "rpodt196",
        "again",
    ];
    let err = second.fails(&create, 125);
    assert!(
        err.contains("already used on the host") && err.contains("10.93.195.0/24"),
        "{err}"
    );
    first.ok(&["rm", "-f", "-t", "0", &id]);
    first.ok(&["network", "rm", "taken"]);
    second.ok(&create);
}
