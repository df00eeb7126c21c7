#!/usr/bin/env bash
# etcd-certs output as kube-apiserver sees it: Go's crypto/x509 and
# crypto/tls (what the API server uses to call a webhook with caBundle as its
# only root) verify the serving certificate for every Service name and the
# IP, a real TLS 1.3 and 1.2 handshake succeeds, and a wrong name or CA fails.
# ECDSA P-256 (the default) and RSA 2048. Needs Go (Debian's golang-go, in
# the bench packages); without it the test says so and passes.
set -euo pipefail
BUILD=${EO_BUILD:-build}
CERTS=$BUILD/etcd-certs
if ! command -v go >/dev/null 2>&1; then
	echo "SKIP: go is not installed (scripts/install-deps.sh --bench brings it)"
	exit 0
fi
[ -x "$CERTS" ] || { echo "no $CERTS: build first (make all)"; exit 1; }
T=$(mktemp -d /tmp/test-certs-go-XXXXXX)
trap 'rm -rf "$T"' EXIT
export GOCACHE=${GOCACHE:-$T/gocache} GO111MODULE=off GOTOOLCHAIN=local

"$CERTS" all --out "$T/ecdsa" --ip 127.0.0.1 --dns webhook.example.test >/dev/null
"$CERTS" all --out "$T/rsa" --key-type rsa --ip 127.0.0.1 >/dev/null
"$CERTS" ca --out "$T/other" >/dev/null

cat >"$T/check.go" <<'GO'
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
)

func must(err error, what string) {
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", what, err)
		os.Exit(1)
	}
}

func read(p string) []byte {
	b, err := os.ReadFile(p)
	must(err, p)
	return b
}

func pool(p string) *x509.CertPool {
	cp := x509.NewCertPool()
	if !cp.AppendCertsFromPEM(read(p)) {
		must(fmt.Errorf("no certificate"), p)
	}
	return cp
}

func handshake(pair tls.Certificate, roots *x509.CertPool, name string, version uint16) error {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	must(err, "listen")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: name,
		MinVersion: version, MaxVersion: version})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = io.ReadAll(c)
	return err
}

func main() {
	dir, other := os.Args[1], os.Args[2]
	roots := pool(dir + "/ca.crt")
	leafPEM := read(dir + "/tls.crt")
	pair, err := tls.X509KeyPair(leafPEM, read(dir+"/tls.key"))
	must(err, "tls.X509KeyPair")
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	must(err, "parse leaf")
	caPair, err := tls.X509KeyPair(read(dir+"/ca.crt"), read(dir+"/ca.key"))
	must(err, "CA pair")
	ca, err := x509.ParseCertificate(caPair.Certificate[0])
	must(err, "parse CA")
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		must(fmt.Errorf("IsCA=%v constraints=%v usage=%v", ca.IsCA, ca.BasicConstraintsValid, ca.KeyUsage), "CA profile")
	}
	names := []string{"etcd-webhook.etcd-operator-system.svc",
		"etcd-webhook.etcd-operator-system.svc.cluster.local",
		"etcd-webhook.etcd-operator-system", "etcd-webhook", "127.0.0.1"}
	for _, n := range names {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: roots,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		must(err, "verify "+n)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.etcd-operator-system.svc", Roots: roots}); err == nil {
		must(fmt.Errorf("accepted"), "a name not in the SAN")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: names[0], Roots: pool(other + "/ca.crt")}); err == nil {
		must(fmt.Errorf("accepted"), "another CA")
	}
	must(handshake(pair, roots, names[0], tls.VersionTLS13), "TLS 1.3 handshake")
	must(handshake(pair, roots, names[0], tls.VersionTLS12), "TLS 1.2 handshake")
	fmt.Printf("ok %s: %s, %d names verified, TLS 1.2 and 1.3 handshakes\n", dir, leaf.PublicKeyAlgorithm, len(names))
}
GO
go run "$T/check.go" "$T/ecdsa" "$T/other"
go run "$T/check.go" "$T/rsa" "$T/other"
