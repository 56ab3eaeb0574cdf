"""`honeycombd tls init` / `tls client`: a private CA for a LAN, checked with the system's openssl tool."""
import os, stat, subprocess

from conftest import HONEYCOMBD, require_tool


def run(*args):
    return subprocess.run([HONEYCOMBD, "tls", *args], capture_output=True, text=True, timeout=30)


def openssl(*args):
    return subprocess.run([require_tool("openssl", package="openssl"), *args], capture_output=True, text=True, timeout=30)


def test_init_makes_a_ca_and_a_server_certificate_for_the_hosts_and_prints_how_to_use_them(tmp_path):
    d = tmp_path / "tls"
    r = run("init", str(d), "--host", "hive.lan", "--host", "192.168.7.9")
    assert r.returncode == 0, r.stderr
    for name in ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem"]:
        assert (d / name).exists(), name
    # Keys are readable by their owner alone.
    for key in ["ca-key.pem", "server-key.pem"]:
        assert stat.S_IMODE(os.stat(d / key).st_mode) & 0o077 == 0, key
    assert f"--tls-cert {d}/server.pem" in r.stdout and "--tls-key" in r.stdout
    assert "drone --honeycomb tls://hive.lan:4222 --tls-ca ca.pem" in r.stdout
    # openssl agrees the server certificate chains to the CA and names every host, loopback included.
    v = openssl("verify", "-CAfile", str(d / "ca.pem"), str(d / "server.pem"))
    assert v.returncode == 0 and "OK" in v.stdout, v.stdout + v.stderr
    text = openssl("x509", "-in", str(d / "server.pem"), "-noout", "-text").stdout
    for name in ["DNS:hive.lan", "IP Address:192.168.7.9", "DNS:localhost", "IP Address:127.0.0.1"]:
        assert name in text, name
    assert "TLS Web Server Authentication" in text
    for h in ["hive.lan", "192.168.7.9"]:
        flag = "-verify_ip" if h[0].isdigit() else "-verify_hostname"
        assert openssl("verify", "-CAfile", str(d / "ca.pem"), flag, h, str(d / "server.pem")).returncode == 0, h
    assert openssl("verify", "-CAfile", str(d / "ca.pem"), "-verify_hostname", "other.lan", str(d / "server.pem")).returncode != 0


def test_init_again_keeps_the_ca_so_drones_that_trust_it_keep_working(tmp_path):
    d = tmp_path / "tls"
    assert run("init", str(d), "--host", "a.lan").returncode == 0
    ca = (d / "ca.pem").read_text()
    r = run("init", str(d), "--host", "b.lan")
    assert r.returncode == 0 and "kept the CA" in r.stdout
    assert (d / "ca.pem").read_text() == ca
    text = openssl("x509", "-in", str(d / "server.pem"), "-noout", "-text").stdout
    assert "DNS:b.lan" in text
    assert openssl("verify", "-CAfile", str(d / "ca.pem"), str(d / "server.pem")).returncode == 0


def test_client_certificates_are_signed_by_the_ca_for_client_use_only(tmp_path):
    d = tmp_path / "tls"
    assert run("init", str(d)).returncode == 0
    r = run("client", str(d), "laptop-1")
    assert r.returncode == 0, r.stderr
    assert '"certificate": "laptop-1"' in r.stdout and "--tls-cert laptop-1.pem" in r.stdout
    assert openssl("verify", "-CAfile", str(d / "ca.pem"), "-purpose", "sslclient", str(d / "laptop-1.pem")).returncode == 0
    assert openssl("verify", "-CAfile", str(d / "ca.pem"), "-purpose", "sslserver", str(d / "laptop-1.pem")).returncode != 0
    assert "CN = laptop-1" in openssl("x509", "-in", str(d / "laptop-1.pem"), "-noout", "-subject").stdout


def test_bad_invocations_say_what_is_wrong(tmp_path):
    assert run().returncode == 64
    r = run("client", str(tmp_path / "none"), "x")
    assert r.returncode == 1 and "tls init" in r.stderr
    assert run("init", str(tmp_path / "d"), "--host", "bad host!").returncode == 1
    assert "not a host name" in run("init", str(tmp_path / "d"), "--host", "bad host!").stderr
    assert run("init", str(tmp_path / "d"), "--days", "0").returncode == 64
    assert run("client", str(tmp_path / "d"), "../escape").returncode != 0
    assert run("init", str(tmp_path / "d"), "--frobnicate").returncode == 64


def test_a_missing_or_mismatched_certificate_stops_honeycombd_with_the_file_named(tmp_path):
    d = tmp_path / "tls"
    assert run("init", str(d)).returncode == 0
    assert run("client", str(d), "other").returncode == 0
    r = subprocess.run([HONEYCOMBD, "--listen", "127.0.0.1:0", "--http", "off", "--tls-cert", str(d / "missing.pem"),
                        "--tls-key", str(d / "server-key.pem")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 78 and "missing.pem" in r.stderr + r.stdout
    r = subprocess.run([HONEYCOMBD, "--listen", "127.0.0.1:0", "--http", "off", "--tls-cert", str(d / "server.pem"),
                        "--tls-key", str(d / "other-key.pem")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 78 and "does not belong to the certificate" in r.stderr + r.stdout
    r = subprocess.run([HONEYCOMBD, "--listen", "127.0.0.1:0", "--tls-cert", str(d / "server.pem")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "--tls-key" in r.stderr
