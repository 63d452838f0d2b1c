package testenv

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisTLS is a redis-server of one test that speaks TLS only (no plain
// port), asks every client for a certificate of CA, and knows one ACL user
// besides a disabled default user (docs/security.md, "Transport").
type RedisTLS struct {
	Addr           string
	CA             *CA  // signed the server's and Client's certificates
	Client         Pair // a client certificate the server accepts
	User, Password string
}

// RedisTLSOptions shape StartRedisTLS's server.
type RedisTLSOptions struct {
	// Cluster makes it a Redis Cluster of one master holding every slot,
	// its cluster bus on TLS too.
	Cluster bool
	// ACL are the user's rules besides "on" and its password; empty: every
	// key and command ("~*", "&*", "+@all").
	ACL []string
}

// StartRedisTLS starts a private redis-server (from PATH) on a free
// loopback port, with its files in the test's temporary directory, and
// stops it when the test ends. Skipped with -short.
func StartRedisTLS(tb testing.TB, o RedisTLSOptions) *RedisTLS {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: skipped with -short")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not installed: %v", err)
	}
	ca := NewCA(tb)
	server := ca.Server(tb)
	r := &RedisTLS{CA: ca, Client: ca.Client(tb, "streamsync"), User: "streamsync", Password: "acl-" + Prefix(tb)}
	dir := tb.TempDir()
	port, bus := FreePort(tb), FreePort(tb)
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{
		"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", server.CertFile, "--tls-key-file", server.KeyFile, "--tls-ca-cert-file", ca.File,
		"--tls-auth-clients", "yes", "--dir", dir, "--save", "", "--appendonly", "no",
		"--user", "default", "off",
	}
	acl := o.ACL
	if len(acl) == 0 {
		acl = []string{"~*", "&*", "+@all"}
	}
	args = append(append(args, "--user", r.User, "on", ">"+r.Password), acl...)
	args = append(args, "--user", "admin", "on", ">"+r.adminPassword(), "~*", "&*", "+@all")
	if o.Cluster {
		args = append(args, "--cluster-enabled", "yes", "--tls-cluster", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-announce-ip", "127.0.0.1",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"))
	}
	logf, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
	})
	rdb := r.Admin(tb)
	ctx := context.Background()
	ready := func() bool { return rdb.Ping(ctx).Err() == nil }
	deadline := time.Now().Add(15 * time.Second)
	for !ready() {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			b, _ := os.ReadFile(logf.Name())
			tb.Fatalf("redis-server with TLS on %s did not answer: %v\n%s", r.Addr, rdb.Ping(ctx).Err(), b)
		}
		time.Sleep(20 * time.Millisecond) // polling a starting server: not a wait for correctness
	}
	if o.Cluster {
		if err := rdb.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
			tb.Fatalf("cluster addslots: %v", err)
		}
		WaitFor(tb, 15*time.Second, "the one-node TLS cluster to be ok", func() bool {
			info, err := rdb.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
	}
	return r
}

// Admin is a client of the test's own: a second ACL user with every right,
// closed when the test ends.
func (r *RedisTLS) Admin(tb testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, Username: "admin", Password: r.adminPassword(), TLSConfig: r.TLSConfig(), MaxRetries: -1})
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func (r *RedisTLS) adminPassword() string { return "admin-" + r.Password }

// TLSConfig is a client TLS configuration the server accepts.
func (r *RedisTLS) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: r.CA.Pool, Certificates: []tls.Certificate{r.Client.TLS}, MinVersion: tls.VersionTLS12}
}

// FreePort is a TCP port free on 127.0.0.1 a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
