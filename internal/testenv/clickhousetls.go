package testenv

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ClickHouseTLS is a clickhouse-server of one test whose native protocol
// speaks TLS (tcp_port_secure) and asks every client for a certificate of
// CA; its user User has the password Password.
type ClickHouseTLS struct {
	Addr           string // TLS (tcp_port_secure)
	PlainAddr      string // plain TCP, for the test's own checks
	HTTPAddr       string // the HTTP interface (plain), for the test's own checks
	CA             *CA
	Client         Pair // a client certificate the server accepts
	User, Password string
}

// StartClickHouseTLS starts a private clickhouse-server (from PATH or
// /usr/sbin) on free loopback ports, its files in the test's temporary
// directory, and stops it when the test ends. Skipped with -short.
func StartClickHouseTLS(tb testing.TB) *ClickHouseTLS {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: skipped with -short")
	}
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/clickhouse-server"); err != nil {
			tb.Fatalf("clickhouse-server is not installed: %v", err)
		}
	}
	ca := NewCA(tb)
	server := ca.Server(tb)
	s := &ClickHouseTLS{CA: ca, Client: ca.Client(tb, "streamsync"), User: "streamsync", Password: "ch-" + Prefix(tb)}
	dir := tb.TempDir()
	secure, plain, http := FreePort(tb), FreePort(tb), FreePort(tb)
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(secure))
	s.PlainAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(plain))
	s.HTTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(http))
	config := fmt.Sprintf(`<yandex>
    <logger><console>0</console><level>warning</level><log>%[1]s/clickhouse.log</log><errorlog>%[1]s/clickhouse.err.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <tcp_port_secure>%[3]d</tcp_port_secure>
    <http_port>%[4]d</http_port>
    <openSSL><server>
        <certificateFile>%[5]s</certificateFile><privateKeyFile>%[6]s</privateKeyFile>
        <caConfig>%[7]s</caConfig><verificationMode>strict</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile>
        <cacheSessions>true</cacheSessions><disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols><preferServerCiphers>true</preferServerCiphers>
    </server></openSSL>
    <path>%[1]s/data/</path>
    <tmp_path>%[1]s/tmp/</tmp_path>
    <mark_cache_size>268435456</mark_cache_size>
    <users_config>users.xml</users_config>
</yandex>
`, dir, plain, secure, http, server.CertFile, server.KeyFile, ca.File)
	users := fmt.Sprintf(`<yandex>
    <profiles><default/></profiles>
    <users>
        <default><password/><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
        <%[1]s><password>%[2]s</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></%[1]s>
    </users>
    <quotas><default/></quotas>
</yandex>
`, s.User, s.Password)
	for name, body := range map[string]string{"config.xml": config, "users.xml": users} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(dir, "clickhouse.out"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = out.Close()
	})
	conn := s.Conn(tb, s.TLSConfig())
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := conn.Ping(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "clickhouse.err.log"))
			tb.Fatalf("clickhouse-server exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "clickhouse.err.log"))
			tb.Fatalf("clickhouse-server with TLS on %s did not answer: %v\n%s", s.Addr, err, b)
		}
		time.Sleep(50 * time.Millisecond) // polling a starting server: not a wait for correctness
	}
	return s
}

// TLSConfig is a client TLS configuration the server accepts.
func (s *ClickHouseTLS) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CA.Pool, Certificates: []tls.Certificate{s.Client.TLS}, MinVersion: tls.VersionTLS12}
}

// Conn is a connection over TLS as User (tc nil: plain TCP), closed when
// the test ends.
func (s *ClickHouseTLS) Conn(tb testing.TB, tc *tls.Config) driver.Conn {
	tb.Helper()
	addr := s.Addr
	if tc == nil {
		addr = s.PlainAddr
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, TLS: tc, DialTimeout: 2 * time.Second,
		Auth: clickhouse.Auth{Database: "default", Username: s.User, Password: s.Password}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}
